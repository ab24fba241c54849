/**
 * Fuzz targets for every decoder of @conclave/protocol that reads bytes or JSON from the network,
 * as fast-check properties (docs/security-testing.md says why fast-check and not Jazzer.js here).
 *
 * Inputs come from two generators per target: arbitrary bytes (or strings, or JSON), and
 * *mutations of real messages* (bit flips, byte rewrites, cuts, insertions, splices of two real
 * messages) so that the fuzzer gets past the first length field. Each property states what the
 * decoder may do: decode to something canonical (re-encoding gives the same bytes or value), or
 * refuse with the package's own error type and a documented code. Anything else — another
 * exception, a hang, a value that does not round-trip — fails the property.
 *
 * Used by fuzz.test.ts (a bounded, seeded run, and the corpus replayed) and bench/fuzz.mjs (long runs).
 */
import * as fc from "fast-check";
import { PropertyViolation, mutatedBytes, type FuzzTarget } from "@conclave/test-support";
import { decodeMlsMessage } from "ts-mls/message.js";
import { fileURLToPath } from "node:url";
import {
  MlsSession,
  PublicGroup,
  DEFAULT_MLS_SUITE,
  checkKeyPackage,
  clearPrefixLength,
  createKeyPackage,
  decodeMemberIdentity,
  decodeAppMessage,
  decodeSealedPayload,
  encodeAppMessage,
  encodeSealedPayload,
  SEALED_PADDING,
  type AppMessage,
  decodeSFrameHeader,
  encodeMemberIdentity,
  encodeMessage,
  encodeSFrameHeader,
  isProtocolError,
  parseClientMessage,
  parseServerMessage,
  peekKeyPackage,
  peekMessage,
  utf8,
  type ProtocolErrorCode,
} from "../src/index.js";

function expectRefusal(e: unknown, codes: readonly ProtocolErrorCode[], what: string): void {
  if (isProtocolError(e) && codes.includes(e.code)) return;
  const desc = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  throw new PropertyViolation(`${what} threw ${desc}`);
}

/** Mutations of real JSON messages: a field replaced by anything, added, removed, retyped. */
function mutatedJson(seeds: readonly Record<string, unknown>[]): fc.Arbitrary<string> {
  const field = fc.string({ maxLength: 12 });
  return fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.array(
        fc.oneof(
          fc.record({ kind: fc.constant("replace" as const), pick: fc.nat(), value: fc.jsonValue({ maxDepth: 3 }) }),
          fc.record({ kind: fc.constant("add" as const), key: field, value: fc.jsonValue({ maxDepth: 2 }) }),
          fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }),
        ),
        { minLength: 1, maxLength: 3 },
      ),
    )
    .map(([seed, ops]) => {
      const o: Record<string, unknown> = structuredClone(seed);
      for (const op of ops) {
        const keys = Object.keys(o);
        if (op.kind === "add") o[op.key] = op.value;
        else if (keys.length > 0) {
          const k = keys[op.pick % keys.length]!;
          if (op.kind === "remove") delete o[k];
          else o[k] = op.value;
        }
      }
      return JSON.stringify(o);
    });
}

function jsonTextArbitrary(seeds: readonly Record<string, unknown>[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
    { weight: 6, arbitrary: mutatedJson(seeds) },
    { weight: 1, arbitrary: fc.constantFrom(...seeds.map((s) => JSON.stringify(s))) },
  );
}

/** Zero-padded to whole SEALED_PADDING blocks, as sealed payloads are. */
function pad(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.max(1, Math.ceil(bytes.length / SEALED_PADDING)) * SEALED_PADDING);
  out.set(bytes.subarray(0, out.length));
  return out;
}

function bytesArbitrary(seeds: readonly Uint8Array[], maxLength: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof({ weight: 1, arbitrary: fc.uint8Array({ maxLength }) }, { weight: 4, arbitrary: mutatedBytes(seeds) });
}

// ---- seeds: real messages ------------------------------------------------------------------

const b64 = (n: number) => Buffer.from(new Uint8Array(n).map((_, i) => i)).toString("base64");

export const CLIENT_MESSAGE_SEEDS: Record<string, unknown>[] = [
  { type: "join", version: 1, meetingId: "12345678901", passcode: "abcdefghjk", memberId: "m1", displayName: "Ada", keyPackage: b64(40) },
  { type: "groupCreated", groupId: b64(12), groupInfo: b64(60) },
  { type: "commit", epoch: "3", commit: b64(80), welcome: b64(40), added: ["m2"], removed: ["m3"] },
  { type: "commitAck", epoch: "3", transcriptHash: b64(32) },
  { type: "commitFailed", epoch: "3", reason: "MLS_COMMIT_REJECTED", keyPackage: b64(40) },
  { type: "welcomeProcessed", epoch: "4", transcriptHash: b64(32) },
  { type: "publishOffer", sdp: "v=0\r\n", tracks: [{ mid: "0", kind: "audio", source: "microphone" }] },
  { type: "ice", pc: "publish", candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", mid: "0" },
  { type: "remove", memberId: "m2", allowRejoin: false },
  { type: "ping", nonce: 7 },
  { type: "appMessage", message: b64(300), to: ["m2"] },
  { type: "moveRoom", roomId: "room1", keyPackage: b64(40) },
  { type: "moveRoom", roomId: null, keyPackage: b64(40) },
  { type: "breakoutOpen", rooms: [{ roomId: "room1", members: ["m2", "m3"] }, { roomId: "room2", members: [] }], durationSec: 600 },
  { type: "breakoutClose" },
  { type: "breakoutBroadcast", message: b64(120) },
  { type: "chatArchive", id: "c-12345678", text: "saved in Enhanced meetings" },
];

export const SERVER_MESSAGE_SEEDS: Record<string, unknown>[] = [
  { type: "joined", memberId: "m1", meetingId: "12345678901", encryption: "e2ee", members: [{ memberId: "m1", displayName: "Ada", kind: { kind: "person" }, inGroup: true, role: "host" }] },
  { type: "commitRequest", epoch: "2", add: [{ memberId: "m2", keyPackage: b64(40) }], remove: ["m3"] },
  { type: "commit", epoch: "2", commit: b64(80), from: "m1" },
  { type: "epochConfirmed", epoch: "3" },
  { type: "rollback", epoch: "2", reason: "2 of 3 members could not apply it" },
  { type: "welcome", epoch: "3", welcome: b64(90) },
  { type: "subscribeOffer", sdp: "v=0\r\n", tracks: [{ mid: "0", publicationId: "p1", ownerId: "m2", kind: "video", source: "camera" }] },
  { type: "error", code: "BAD_COMMIT", message: "x", fatal: true },
  { type: "appMessage", from: "m2", message: b64(300) },
  { type: "meetingState", locked: false, features: { inMeetingChat: true, privateChat: false, reactions: true, polling: true, breakoutRooms: true, fileSharing: false, chatHistory: false } },
  { type: "breakoutState", open: true, rooms: [{ roomId: "room1", assigned: ["m2"], present: ["m2"] }], endsAt: 1_800_000_000_000, room: null },
  { type: "breakoutBroadcast", from: "m1", message: b64(120) },
];

/** Real application payloads (docs/protocol.md §6.1): what a member encrypts for the others. */
export const APP_MESSAGE_SEEDS: Record<string, unknown>[] = [
  { v: 1, type: "mediaState", mic: false, camera: true, screen: false },
  { v: 1, type: "spotlight", memberIds: ["a", "b"] },
  { v: 1, type: "chat", id: "c-12345678", text: "Hello, everyone\n👋 ça va?" },
  { v: 1, type: "file", id: "f-12345678", fileId: "0123456789abcdefABCDEF", name: "notes.pdf", size: 5_000_000, mediaType: "application/pdf", key: "A".repeat(43) + "=" },
  { v: 1, type: "reaction", emoji: "👏" },
  { v: 1, type: "hand", raised: true },
  { v: 1, type: "lowerHand", target: "m2" },
  { v: 1, type: "localRecording", state: "started" },
  { v: 1, type: "caption", speaker: "m2", seq: 4, text: "he might even have been made amiable himself", start: 29_160, end: 31_950, final: true },
  { v: 1, type: "pollLaunch", pollId: "poll-0001", question: "Lunch?", options: ["Pizza", "Salad"], multiple: false, anonymous: true },
  { v: 1, type: "pollResults", pollId: "poll-0001", counts: [3, 1], voters: 4 },
  { v: 1, type: "breakoutPlan", planId: "plan-0001", rooms: [{ roomId: "r1", name: "Room 1" }], broadcastKey: "C".repeat(43) + "=", signingKey: "F".repeat(43) + "=" },
  { v: 1, type: "sealed", to: "m2", toLeaf: 3, enc: "D".repeat(43) + "=", ct: "E".repeat(364) },
];

/** Real sealed payloads (§6.2): what one member seals to another. */
export const SEALED_PAYLOAD_SEEDS: Record<string, unknown>[] = [
  { v: 1, type: "privateChat", id: "p_abcdefgh", text: "just for you" },
  { v: 1, type: "privateFile", id: "f-87654321", fileId: "0123456789abcdefABCDEF", name: "empty", size: 0, mediaType: "", key: "B".repeat(43) + "=" },
  { v: 1, type: "pollVote", pollId: "poll-0001", choices: [1] },
];

/** Real MLS messages of a three-member group: key packages, a GroupInfo, commits, a Welcome. */
export interface MlsSeeds {
  keyPackages: Uint8Array[];
  groupInfo: Uint8Array;
  /** A group at epoch 0 and a commit adding `added` to it, as the delivery service sees them. */
  group: PublicGroup;
  addCommit: { commit: Uint8Array; welcome: Uint8Array; added: Uint8Array[] };
  all: Uint8Array[];
}

export async function mlsSeeds(): Promise<MlsSeeds> {
  const person = (n: string) => ({ kind: "person" as const, memberId: `id-${n}`, displayName: n });
  const groupId = utf8.encode("conclave:12345678901#1");
  const ada = await MlsSession.create(groupId, person("Ada"));
  const groupInfo = await ada.publicGroupInfo();
  const group = await PublicGroup.fromGroupInfo(groupInfo, { groupId, suite: DEFAULT_MLS_SUITE });
  const bob = await createKeyPackage(person("Bob"));
  const cy = await createKeyPackage(person("Cy"));
  const add = await ada.commit({ add: [bob.keyPackage, cy.keyPackage] });
  await ada.applyPendingCommit();
  const bobS = await MlsSession.joinFromWelcome(add.welcome!, bob.secret);
  const remove = await bobS.commit({ remove: [2] });
  const update = await ada.commit({});
  const app = await ada.encryptApplicationMessage(utf8.encode("hello"));
  const keyPackages = [bob.keyPackage, cy.keyPackage, (await createKeyPackage({ kind: "connector", connector: "sip", memberId: "c-1", displayName: "Room" })).keyPackage];
  return {
    keyPackages,
    groupInfo,
    group,
    addCommit: { commit: add.commit, welcome: add.welcome!, added: [bob.keyPackage, cy.keyPackage] },
    all: [...keyPackages, groupInfo, add.commit, add.welcome!, remove.commit, update.commit, app],
  };
}

// ---- targets -------------------------------------------------------------------------------

export function syncTargets(): FuzzTarget[] {
  const sframeSeeds = [
    encodeSFrameHeader({ kid: 0n, ctr: 0n }),
    encodeSFrameHeader({ kid: 0x1234n, ctr: 0xffffn }),
    encodeSFrameHeader({ kid: (1n << 64n) - 1n, ctr: (1n << 64n) - 1n }),
    concat(encodeSFrameHeader({ kid: 0x10203n, ctr: 7n }), new Uint8Array(40)),
  ];
  const identitySeeds = [
    encodeMemberIdentity({ kind: "person", memberId: "m1", displayName: "Ada Lovelace" }),
    encodeMemberIdentity({ kind: "connector", connector: "pstn", memberId: "c-9", displayName: "Phone +1 555" }),
  ];
  const frameSeeds = [new Uint8Array([0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 1, 2, 3]), new Uint8Array([0x31, 0x00, 0x00, 5]), new Uint8Array([0xfc, 1, 2])];
  return [
    {
      name: "signaling.client",
      reads: "every WebSocket text message a participant sends the server",
      arbitrary: jsonTextArbitrary(CLIENT_MESSAGE_SEEDS),
      check(input) {
        let msg;
        try {
          msg = parseClientMessage(input);
        } catch (e) {
          return expectRefusal(e, ["MESSAGE_MALFORMED", "MESSAGE_TOO_LARGE"], "parseClientMessage");
        }
        // Valid messages round-trip: what the server acts on is what it would send on.
        const again = parseClientMessage(encodeMessage(msg));
        if (JSON.stringify(again) !== JSON.stringify(msg)) throw new PropertyViolation("a client message does not round-trip");
      },
    },
    {
      name: "signaling.server",
      reads: "every WebSocket text message the server sends a participant (a client's decoder)",
      arbitrary: jsonTextArbitrary(SERVER_MESSAGE_SEEDS),
      check(input) {
        let msg;
        try {
          msg = parseServerMessage(input);
        } catch (e) {
          return expectRefusal(e, ["MESSAGE_MALFORMED", "MESSAGE_TOO_LARGE"], "parseServerMessage");
        }
        const again = parseServerMessage(encodeMessage(msg));
        if (JSON.stringify(again) !== JSON.stringify(msg)) throw new PropertyViolation("a server message does not round-trip");
      },
    },
    {
      name: "app.message",
      reads: "the payload of every application message a member sends the group (chat, files, reactions, hands, local recording announcements, polls, breakout plans), after MLS decryption",
      arbitrary: fc.oneof(
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
        { weight: 6, arbitrary: jsonTextArbitrary(APP_MESSAGE_SEEDS).map((t) => utf8.encode(t)) },
        { weight: 2, arbitrary: mutatedBytes(APP_MESSAGE_SEEDS.map((m) => utf8.encode(JSON.stringify(m)))) },
      ),
      check(input) {
        let msg;
        try {
          msg = decodeAppMessage(input as Uint8Array);
        } catch (e) {
          return expectRefusal(e, ["APP_MESSAGE_MALFORMED", "APP_MESSAGE_UNSUPPORTED", "APP_MESSAGE_TOO_LARGE"], "decodeAppMessage");
        }
        const again = decodeAppMessage(encodeAppMessage(msg));
        if (JSON.stringify(again) !== JSON.stringify(msg)) throw new PropertyViolation("an application message does not round-trip");
      },
    },
    {
      name: "app.sealedPayload",
      reads: "what a member seals to one other member (private chat, private files, poll votes), after HPKE decryption",
      arbitrary: fc.oneof(
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }) },
        { weight: 3, arbitrary: mutatedBytes(SEALED_PAYLOAD_SEEDS.map((m) => encodeSealedPayload(m as AppMessage))) },
        { weight: 4, arbitrary: jsonTextArbitrary(SEALED_PAYLOAD_SEEDS).map((t) => pad(utf8.encode(t))) },
      ),
      check(input) {
        let msg;
        try {
          msg = decodeSealedPayload(input as Uint8Array);
        } catch (e) {
          return expectRefusal(e, ["APP_MESSAGE_MALFORMED", "APP_MESSAGE_UNSUPPORTED", "APP_MESSAGE_TOO_LARGE"], "decodeSealedPayload");
        }
        const again = decodeSealedPayload(encodeSealedPayload(msg));
        if (JSON.stringify(again) !== JSON.stringify(msg)) throw new PropertyViolation("a sealed payload does not round-trip");
      },
    },
    {
      name: "sframe.header",
      reads: "the header of every media frame a receiver decrypts (RFC 9605 §4.3)",
      arbitrary: bytesArbitrary(sframeSeeds, 24),
      check(input) {
        const bytes = input as Uint8Array;
        let h;
        try {
          h = decodeSFrameHeader(bytes);
        } catch (e) {
          return expectRefusal(e, ["SFRAME_HEADER_TRUNCATED", "SFRAME_HEADER_NON_MINIMAL", "SFRAME_VALUE_TOO_LARGE", "INVALID_ARGUMENT"], "decodeSFrameHeader");
        }
        if (h.headerLength > bytes.length) throw new PropertyViolation("a header longer than its input");
        const re = encodeSFrameHeader(h);
        if (Buffer.compare(Buffer.from(re), Buffer.from(bytes.subarray(0, h.headerLength))) !== 0) throw new PropertyViolation("a non-canonical SFrame header decoded");
      },
    },
    {
      name: "codec.framing",
      reads: "the codec header of every media frame (VP8 frame tag, Opus TOC)",
      arbitrary: bytesArbitrary(frameSeeds, 16),
      check(input) {
        const bytes = input as Uint8Array;
        for (const codec of ["vp8", "opus"] as const) {
          let n;
          try {
            n = clearPrefixLength(codec, bytes);
          } catch (e) {
            expectRefusal(e, ["FRAME_TOO_SHORT", "INVALID_ARGUMENT"], `clearPrefixLength(${codec})`);
            continue;
          }
          if (!Number.isInteger(n) || n < 0 || n > bytes.length) throw new PropertyViolation(`clear prefix of ${n} bytes for a ${bytes.length}-byte frame`);
        }
      },
    },
    {
      name: "mls.identity",
      reads: "the member identity in every credential (key packages, trees)",
      arbitrary: bytesArbitrary(identitySeeds, 300),
      check(input) {
        let id;
        try {
          id = decodeMemberIdentity(input as Uint8Array);
        } catch (e) {
          return expectRefusal(e, ["MLS_BAD_CREDENTIAL"], "decodeMemberIdentity");
        }
        if (Buffer.compare(Buffer.from(encodeMemberIdentity(id)), Buffer.from(input as Uint8Array)) !== 0) throw new PropertyViolation("a non-canonical identity decoded");
      },
    },
  ];
}

const MLS_REFUSALS: ProtocolErrorCode[] = ["MLS_BAD_MESSAGE", "MESSAGE_TOO_LARGE", "MLS_BAD_CREDENTIAL", "MLS_UNSUPPORTED_SUITE", "INVALID_ARGUMENT"];

/** Targets over real MLS messages (the seeds are made with fresh keys each time). */
export function mlsTargets(seeds: MlsSeeds): FuzzTarget[] {
  const addExpect = { committerLeaf: 0, add: seeds.addCommit.added, remove: [] as number[], welcome: seeds.addCommit.welcome };
  const original = seeds.addCommit.commit;
  return [
    {
      name: "mls.peek",
      reads: "the MLS framing the delivery service reads of every commit and message (RFC 9420 §6)",
      arbitrary: bytesArbitrary(seeds.all, 400),
      check(input) {
        try {
          peekMessage(input as Uint8Array);
        } catch (e) {
          expectRefusal(e, MLS_REFUSALS, "peekMessage");
        }
        try {
          peekKeyPackage(input as Uint8Array);
        } catch (e) {
          expectRefusal(e, MLS_REFUSALS, "peekKeyPackage");
        }
      },
    },
    {
      name: "mls.keyPackage",
      reads: "every key package a participant submits (join, rejoin), signatures checked",
      arbitrary: mutatedBytes(seeds.keyPackages),
      async check(input) {
        try {
          await checkKeyPackage(input as Uint8Array);
        } catch (e) {
          expectRefusal(e, MLS_REFUSALS, "checkKeyPackage");
        }
      },
    },
    {
      name: "mls.groupInfo",
      reads: "the founder's public GroupInfo (groupCreated)",
      arbitrary: mutatedBytes([seeds.groupInfo]),
      async check(input) {
        try {
          const g = await PublicGroup.fromGroupInfo(input as Uint8Array, { groupId: seeds.group.groupId, suite: DEFAULT_MLS_SUITE });
          // Accepted only if it is the founder's group: a tampered GroupInfo fails its signature.
          if (g.members().length !== 1 || Buffer.compare(Buffer.from(g.transcriptHash), Buffer.from(seeds.group.transcriptHash)) !== 0) throw new PropertyViolation("a tampered GroupInfo was accepted");
        } catch (e) {
          if (e instanceof PropertyViolation) throw e;
          expectRefusal(e, [...MLS_REFUSALS, "MLS_COMMIT_REJECTED"], "fromGroupInfo");
        }
      },
    },
    {
      name: "mls.commit",
      reads: "every commit the delivery service checks before forwarding it",
      arbitrary: mutatedBytes([original]),
      async check(input) {
        const bytes = input as Uint8Array;
        try {
          await seeds.group.checkCommit(bytes, addExpect);
        } catch (e) {
          return expectRefusal(e, [...MLS_REFUSALS, "MLS_COMMIT_REJECTED"], "checkCommit");
        }
        // Accepted: only what the signature does not cover (the confirmation and membership tags,
        // checked by members) may differ from the genuine commit.
        if (signedPart(bytes) !== signedPart(original)) throw new PropertyViolation("a commit changed inside its signed content was accepted");
      },
    },
  ];
}

/** The signed part of an encoded PublicMessage commit (content and signature), as text. */
function signedPart(bytes: Uint8Array): string {
  const decoded = decodeMlsMessage(bytes, 0);
  if (!decoded || decoded[0].wireformat !== "mls_public_message") return "not a public message";
  const pm = decoded[0].publicMessage;
  return JSON.stringify({ content: pm.content, signature: pm.auth.signature }, (_k, v: unknown) =>
    v instanceof Uint8Array ? Buffer.from(v).toString("hex") : typeof v === "bigint" ? v.toString() : v,
  );
}


function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** This package's kept fuzz inputs (test/fuzz-corpus/<target>/). */
export const CORPUS_DIR = fileURLToPath(new URL("../../test/fuzz-corpus/", import.meta.url));
