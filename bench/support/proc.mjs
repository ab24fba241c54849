// CPU accounting of other processes, from Linux's /proc (the connectors and their ffmpeg run in
// processes of their own, which process.cpuUsage() does not see).
import { readdir, readFile } from "node:fs/promises";

const CLK_TCK = 100;

/** User + system CPU seconds `pid` has used so far; 0 once it has exited. */
export async function procCpuSeconds(pid) {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0; // exited meanwhile
  }
}

/** The child processes of `pid` (of every one of its threads). */
export async function childrenOf(pid) {
  const out = [];
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    const text = await readFile(`/proc/${pid}/task/${tid}/children`, "utf8").catch(() => "");
    out.push(...text.trim().split(/\s+/).filter(Boolean).map(Number));
  }
  return out;
}

/** Every descendant of `pid` (children of each of its threads, recursively). */
export async function descendants(pid) {
  const out = [];
  for (const k of await childrenOf(pid)) out.push(k, ...(await descendants(k)));
  return out;
}

/** A process's command name (`ffmpeg`, `node`), or "?" once it has exited. */
export async function procName(pid) {
  return readFile(`/proc/${pid}/comm`, "utf8").then((c) => c.trim(), () => "?");
}
