// quick diagnostic: 100 media-less sessions in one process joining at once; log DS outputs
const { loadConfig, startConclave } = await import("/work/wt-mls/packages/server/dist/src/index.js");
const { MeetingSession } = await import("/work/wt-mls/packages/client/dist/src/index.js");
const { connectNodeSignaling } = await import("/work/wt-mls/packages/client/dist/src/node.js");
const { createNodeSFrameCrypto } = await import("/work/wt-mls/packages/protocol/dist/src/node.js");
import { mkdtemp, readFile } from "node:fs/promises";
const dir = await mkdtemp("/tmp/dsdbg-");
const server = await startConclave(loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dir }, env: {} }), { relay: false, logger: { info() {}, warn() {}, error() {} }, limits: { joinsPerAddress: 100000 } });
const ca = await readFile(server.certFile, "utf8");
const created = await server.context.meetings.create({ encryption: "e2ee" });
const N = Number(process.argv[2] ?? 100);
const t0 = performance.now();
const ss = [];
const log = (...a) => console.log(((performance.now()-t0)/1000).toFixed(2), ...a);
async function mk(i) {
  const s = new MeetingSession({ meetingId: created.meeting.id, passcode: created.passcode, displayName: `m${i}`, sframeCrypto: createNodeSFrameCrypto(), media: false });
  s.on("error", (e) => log("error", i, e.code, e.message.slice(0, 80)));
  ss.push(s);
  await s.join(await connectNodeSignaling(`wss://127.0.0.1:${server.port}/ws`, { ca }));
}
await mk(0);
await new Promise((r) => { const iv = setInterval(() => { if (ss[0].epoch !== null) { clearInterval(iv); r(); } }, 10); });
log("founded");
await Promise.all(Array.from({ length: N - 1 }, (_, i) => mk(i + 1)));
log("all joins sent");
let last = "";
const iv = setInterval(() => {
  const inGroup = ss.filter((s) => s.epoch !== null).length;
  const epochs = new Set(ss.map((s) => String(s.epoch)));
  const cur = `${inGroup} in group; epochs ${[...epochs].join(",")}; members ${ss[0].groupMembers.length}`;
  if (cur !== last) { log(cur); last = cur; }
  if (inGroup === N && epochs.size === 1 && ss[0].groupMembers.length === N) { log("done"); clearInterval(iv); ss.forEach((s) => s.leave()); server.close().then(() => process.exit(0)); }
}, 100);
setTimeout(() => { log("TIMEOUT"); process.exit(1); }, 120000);
