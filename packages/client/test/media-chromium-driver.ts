// A minimal Chromium driver over the DevTools protocol, for the relay interop test: launch
// headless Chromium on a localhost page (a secure context, so getUserMedia works with the fake
// devices) and evaluate async expressions in it. playwright-core would do the same; this avoids
// a dependency for one test.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { requireSystemBinary } from "@conclave/test-support";

/** Debian's chromium (or CHROMIUM_PATH); a missing browser fails the test naming its package. */
export function chromiumPath(): string {
  return requireSystemBinary("chromium", process.env["CHROMIUM_PATH"]);
}

export interface Browser {
  /** Evaluates an expression in the page (awaiting a returned promise) and returns its JSON value. */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** Kills Chromium with all its helper processes and removes its profile. */
  close(): Promise<void>;
}

// Flags from the brief's field notes (they work as root, headless).
const FLAGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
  "--allow-loopback-in-peer-connection",
  "--autoplay-policy=no-user-gesture-required",
  "--remote-debugging-port=0",
];

/** Opens `script` (run in a page of its own) in headless Chromium; resolves once the page has loaded. */
export async function launchChromium(script: string, timeoutMs = 30_000): Promise<Browser> {
  const server: Server = createServer((_req, res) => {
    res.setHeader("content-type", "text/html");
    res.end(`<!doctype html><title>relay interop</title><script>${script}</script>`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const profile = mkdtempSync(join(tmpdir(), "conclave-chromium-"));
  // Its own process group, so that close() can kill the helpers (zygote, renderer, GPU) too:
  // they inherit stderr, and a helper left alive would keep this process from exiting.
  const proc: ChildProcess = spawn(chromiumPath(), [...FLAGS, `--user-data-dir=${profile}`, `http://localhost:${port}/`], {
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once("exit", () => resolve());
  });
  let ws: WebSocket | undefined;
  const close = async (): Promise<void> => {
    ws?.close();
    try {
      if (proc.pid !== undefined) process.kill(-proc.pid, "SIGKILL");
    } catch {
      // already gone
    }
    await exited;
    proc.stderr?.destroy();
    server.close();
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  };
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      let err = "";
      const timer = setTimeout(() => reject(new Error(`Chromium did not start: ${err.slice(-500)}`)), timeoutMs);
      proc.stderr?.on("data", (d: Buffer) => {
        err += d.toString();
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
      proc.once("exit", (code) => reject(new Error(`Chromium exited (${code}): ${err.slice(-500)}`)));
    });
    const devtools = new URL(endpoint);
    let pageUrl: string | undefined;
    for (const started = Date.now(); pageUrl === undefined && Date.now() - started < timeoutMs; ) {
      const targets = (await (await fetch(`http://${devtools.host}/json/list`)).json()) as { type: string; url: string; webSocketDebuggerUrl: string }[];
      pageUrl = targets.find((t) => t.type === "page" && t.url.startsWith(`http://localhost:${port}`))?.webSocketDebuggerUrl;
      if (pageUrl === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    if (pageUrl === undefined) throw new Error("the page never loaded");
    const socket = new WebSocket(pageUrl);
    ws = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    let nextId = 0;
    type Reply = { id?: number; result?: { result?: { value?: unknown }; exceptionDetails?: unknown } };
    const pending = new Map<number, (msg: Reply) => void>();
    socket.on("message", (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as Reply;
      if (msg.id === undefined) return;
      pending.get(msg.id)?.(msg);
      pending.delete(msg.id);
    });
    // Every evaluation has a deadline, so that a stuck page fails a test instead of hanging it.
    const evaluate = <T>(expression: string): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        const id = ++nextId;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`page: no result after ${timeoutMs} ms for ${expression.slice(0, 80)}`));
        }, timeoutMs);
        pending.set(id, (msg) => {
          clearTimeout(timer);
          if (msg.result?.exceptionDetails) reject(new Error(`page: ${JSON.stringify(msg.result.exceptionDetails).slice(0, 500)}`));
          else resolve(msg.result?.result?.value as T);
        });
        socket.send(JSON.stringify({ id, method: "Runtime.evaluate", params: { expression, awaitPromise: true, returnByValue: true } }));
      });
    // The target can exist before its document has loaded; wait for it.
    for (const started = Date.now(); ; ) {
      const state = await evaluate<string>("location.host + ' ' + document.readyState");
      if (state === `localhost:${port} complete`) break;
      if (Date.now() - started > timeoutMs) throw new Error("the page never finished loading");
      await new Promise((r) => setTimeout(r, 50));
    }
    return { evaluate, close };
  } catch (e) {
    await close();
    throw e;
  }
}
