// A child process of N bots (NodeParticipants sending the synthetic VP8 camera and Opus
// microphone) for the benchmarks that measure what a connector costs: they join, say "joined",
// and leave when told. Usage: fork(this file, [JSON.stringify([link, ca, n])]).
const { NodeParticipant } = await import("../../packages/client/dist/src/node.js");
const [link, ca, n] = JSON.parse(process.argv[2]);
const bots = [];
for (let i = 0; i < n; i++) {
  const p = new NodeParticipant({ link, displayName: `Bot ${i + 1}`, ca });
  await p.join();
  bots.push(p);
}
process.send({ t: "joined" });
process.on("message", (m) => {
  if (m.t === "leave") {
    for (const b of bots) b.leave();
    setTimeout(() => process.exit(0), 300);
  }
});
