// Run as a child process by media-relay.test.ts: exchanges frames through the relay, closes
// everything, and must then exit by itself. Nothing here calls process.exit on success.

import { Bot, loadRelay, Participant, waitUntil } from "./media-harness.js";

const { MediaRelay } = await loadRelay();
const relay = new MediaRelay({ listenAddress: "127.0.0.1" });
const room = relay.createRoom("exit-check");
const a = new Participant(room, "alice");
const b = new Participant(room, "bob");
a.bot = new Bot(await a.publish("audio", "video")).start();
b.bot = new Bot(await b.publish("audio", "video")).start();
await Promise.all([
  waitUntil(a, "update", () => a.framesFrom("bob", "video").length >= 5, "alice receives"),
  waitUntil(b, "update", () => b.framesFrom("alice", "video").length >= 5, "bob receives"),
]);
console.log("frames exchanged");
a.bot.stop();
b.bot.stop();
relay.close();
await Promise.all([a.close(), b.close()]);
console.log("closed after frames; exit follows");
// Should the process linger, say what keeps it alive (the parent kills it after its timeout).
setTimeout(() => console.error("still alive:", process.getActiveResourcesInfo().join(", ")), 15_000).unref();
