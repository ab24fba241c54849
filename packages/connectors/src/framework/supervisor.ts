/**
 * Connector processes and their supervision. A connector runs in a Node child process of its
 * own, never inside the server's process, so the server's code path never holds a media key,
 * and a connector that crashes, leaks or spins never takes a meeting (or the server) down.
 *
 * The supervisor (the server for long-lived connector services such as the SIP gateway; the
 * gateway for its per-call connectors):
 * - starts a process with an IPC channel (JSON messages validated on both sides),
 * - limits it: V8 heap (--max-old-space-size), resident memory and CPU time (watched through
 *   /proc every second; over a limit the process is killed, CONNECTOR_LIMIT_EXCEEDED),
 * - stops it: a `shutdown` message, then SIGTERM, then SIGKILL after a grace period,
 * - restarts it when asked to (services): with backoff (1 s doubling to 30 s), at most
 *   `maxRestarts` within ten minutes, after which it stays down and says so.
 * Owner tree: ConnectorSupervisor -> SupervisedProcess; close() cascades and is idempotent.
 */
import { fork, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { readFile } from "node:fs/promises";
import { ConnectorError } from "../errors.js";

export interface ResourceLimits {
  /** V8 old-space limit in MiB (default 256). */
  heapMb?: number;
  /** Resident set size limit in MiB (default 512). */
  rssMb?: number;
  /** Total CPU seconds (user + system) limit; default none. */
  cpuSeconds?: number;
}

export interface ProcessSpec {
  /** Name for logs ("sip-gateway", "sip-call 3f2a…"). */
  name: string;
  /** Absolute path of the module the child runs. */
  module: string;
  args?: string[];
  env?: Record<string, string>;
  limits?: ResourceLimits;
  /** Restart after an unexpected exit (services). Default false. */
  restart?: boolean;
  maxRestarts?: number;
  /** How long `stop` waits before SIGKILL (default 5 s). */
  stopGraceMs?: number;
}

export interface SupervisedProcessEvents {
  /** A message from the child (already parsed JSON; validate it before use). */
  message: [unknown];
  /** The child started (again). */
  started: [{ pid: number; restarts: number }];
  /** The child exited; `restarting` says whether another one is on the way. */
  exit: [{ code: number | null; signal: string | null; restarting: boolean; reason: "stopped" | "crashed" | "limit" }];
  /** Lines the child wrote to stderr (connectors log no secrets; the supervisor forwards them). */
  log: [string];
}

const RESTART_WINDOW_MS = 10 * 60_000;
const WATCH_INTERVAL_MS = 1000;

export class SupervisedProcess extends EventEmitter<SupervisedProcessEvents> {
  readonly spec: ProcessSpec;
  #child: ChildProcess | undefined;
  #stopping = false;
  #restarts: number[] = [];
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #watch: ReturnType<typeof setInterval> | undefined;
  #limitHit = false;
  #exited: Promise<void> = Promise.resolve();

  constructor(spec: ProcessSpec) {
    super();
    this.spec = spec;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** @internal */
  start(): void {
    const limits = this.spec.limits ?? {};
    const child = fork(this.spec.module, this.spec.args ?? [], {
      execArgv: [`--max-old-space-size=${limits.heapMb ?? 256}`],
      env: { ...minimalEnv(), ...this.spec.env },
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      serialization: "json",
    });
    this.#child = child;
    this.#limitHit = false;
    child.stderr?.setEncoding("utf8");
    let partial = "";
    child.stderr?.on("data", (chunk: string) => {
      partial += chunk;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) if (l.trim() !== "") this.emit("log", l.slice(0, 2000));
    });
    child.on("message", (m) => this.emit("message", m));
    child.on("error", () => undefined);
    this.#exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        if (this.#watch) clearInterval(this.#watch);
        this.#watch = undefined;
        const reason = this.#limitHit ? "limit" : this.#stopping ? "stopped" : "crashed";
        const restarting = !this.#stopping && this.spec.restart === true && this.#mayRestart();
        this.emit("exit", { code, signal, restarting, reason });
        if (restarting) this.#scheduleRestart();
        resolve();
      });
    });
    if (child.pid !== undefined) {
      this.emit("started", { pid: child.pid, restarts: this.#restarts.length });
      this.#watch = setInterval(() => void this.#checkLimits(child), WATCH_INTERVAL_MS);
      this.#watch.unref();
    }
  }

  /** Sends a message to the child (dropped when it is not running). */
  send(message: unknown): boolean {
    const child = this.#child;
    if (!child || !child.connected) return false;
    try {
      child.send(message as object);
      return true;
    } catch {
      return false;
    }
  }

  /** Stops it for good: asks it to shut down, then SIGTERM, then SIGKILL. Idempotent. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.send({ type: "shutdown" });
    const grace = this.spec.stopGraceMs ?? 5000;
    const term = setTimeout(() => child.kill("SIGTERM"), Math.min(grace, 2000));
    const kill = setTimeout(() => child.kill("SIGKILL"), grace);
    await this.#exited;
    clearTimeout(term);
    clearTimeout(kill);
  }

  #mayRestart(): boolean {
    const now = Date.now();
    this.#restarts = this.#restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    return this.#restarts.length < (this.spec.maxRestarts ?? 5);
  }

  #scheduleRestart(): void {
    const delay = Math.min(30_000, 1000 * 2 ** this.#restarts.length);
    this.#restarts.push(Date.now());
    // Not unref'd: a pending restart is work the process must stay up for (stop() clears it).
    this.#restartTimer = setTimeout(() => {
      if (!this.#stopping) this.start();
    }, delay);
  }

  async #checkLimits(child: ChildProcess): Promise<void> {
    const pid = child.pid;
    if (pid === undefined || child.exitCode !== null) return;
    const limits = this.spec.limits ?? {};
    try {
      const status = await readFile(`/proc/${pid}/status`, "utf8");
      const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      let over = rssKb > (limits.rssMb ?? 512) * 1024;
      if (limits.cpuSeconds !== undefined) {
        const stat = await readFile(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime (proc(5))
        if (ticks / 100 > limits.cpuSeconds) over = true;
      }
      if (over && !this.#limitHit) {
        this.#limitHit = true;
        child.kill("SIGKILL");
      }
    } catch {
      // The process is gone; 'exit' follows.
    }
  }
}

export class ConnectorSupervisor {
  readonly #processes = new Set<SupervisedProcess>();
  #closed = false;

  /** Starts a supervised process. */
  spawn(spec: ProcessSpec): SupervisedProcess {
    if (this.#closed) throw new ConnectorError("CONNECTOR_PROCESS_FAILED", "the supervisor is closed");
    const p = new SupervisedProcess(spec);
    this.#processes.add(p);
    p.on("exit", ({ restarting }) => {
      if (!restarting) this.#processes.delete(p);
    });
    p.start();
    return p;
  }

  get processes(): readonly SupervisedProcess[] {
    return [...this.#processes];
  }

  /** Stops every process (in parallel). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#processes].map((p) => p.stop()));
    this.#processes.clear();
  }
}

/** Children get no secrets from the parent's environment: only what they need to run. */
function minimalEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "LANG", "TZ", "NODE_OPTIONS"]) {
    const v = process.env[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
