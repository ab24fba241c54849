/**
 * `conclave bot`: a Node participant that joins a meeting exactly as a browser does (MLS member,
 * WebRTC to the relay, SFrame on every frame), sends synthetic Opus audio and VP8 video, and
 * decrypts what it receives (with --no-media: signaling and MLS only, no WebRTC, for meetings of
 * hundreds of members on one machine). With --json it prints one JSON object per line:
 *
 *   {"event":"waiting","reason":"waitingRoom"|"hostAbsent"}         until a host lets it in (if it must wait)
 *   {"event":"joined","memberId":"..."}
 *   {"event":"epoch","epoch":N,"securityCode":"...","members":[...],"shield":"...","exceptions":[...]}  on every epoch change
 *   {"event":"stats","framesSent":..,"framesDecrypted":..,"decryptFailures":..,"remoteMembers":..,"bySender":{..}}  about once a second
 *   {"event":"reconnecting","attempt":N,"delayMs":N,"reason":"..."}  the connection dropped (server restart,
 *                                                                      network loss): it joins again as a new member
 *   {"event":"chat","id":"...","from":"...","fromName":"...","text":"...","private":false,"room":null}   a chat message received
 *   {"event":"file","id":"...","from":"...","fromName":"...","name":"...","size":N,"private":false,"room":null}   a file shared
 *   {"event":"reaction","from":"...","fromName":"...","emoji":"👏"}
 *   {"event":"hands","raised":[{"memberId":"...","displayName":"..."}]}   raised hands, in order
 *   {"event":"poll","pollId":"...","question":"...","options":[...],"open":true,"results":null|{"counts":[..],"voters":N},...}
 *   {"event":"breakout","open":true,"rooms":[{"roomId":"...","name":"...","assigned":[..],"present":[..]}],"endsAt":null}
 *   {"event":"room","roomId":"..."|null}                              moved to a breakout room (null: back)
 *   {"event":"broadcast","from":"...","fromName":"...","text":"..."}  a host's message to every room
 *   {"event":"left"}
 *   {"event":"error","code":"...","message":"..."}                     then a non-zero exit
 *
 * `members`, `shield` and `exceptions` come from the MLS group itself (its credentials and its
 * policy extension), never from the server: see epochJson.
 */
import { parseArgs } from "node:util";
import { NodeParticipant, parseMeetingLink, type NodeSignalingOptions } from "@conclave/client/node";
import type { ClientErrorCode, EpochEvent } from "@conclave/client";
import { computeShield, describeFarLeg, farLegProtection } from "@conclave/protocol";
import { localServerFiles } from "../data-dir.js";
import { CliError } from "../errors.js";
import type { CliIo, Command } from "../io.js";
import { resolveTrust, TRUST_HELP, TRUST_OPTIONS } from "../tls-trust.js";

export const BOT_HELP = `Usage: conclave bot --url LINK [options]

Join a meeting as a Node participant: an MLS member that sends synthetic, end-to-end
encrypted Opus audio and VP8 video and decrypts everyone else's media.

Options:
  --url LINK            the meeting link, https://host:port/m/<id>#pwd=<passcode>
  --name NAME           display name (default "Conclave bot")
  --passcode CODE       the meeting passcode, if the link does not carry it
  --duration S          leave after S seconds and exit 0 (default: until SIGINT/SIGTERM)
  --json                print one JSON object per line (joined, epoch, stats, left, error)
  --no-media            signaling and MLS only: no WebRTC, nothing sent or received
                        (the member still gets every epoch and security code)
  --receive-only        send no media, but receive and decrypt everyone else's
  --chat TEXT           send TEXT to the meeting's chat once in the group (end-to-end
                        encrypted); received chat, reactions, hands, polls and breakout
                        rooms are printed as they arrive
  --vote N              vote for option N (0-based) in every poll launched
  --no-reconnect        exit when the connection drops instead of joining again
                        (by default it rejoins after a server restart or network loss,
                        and exits only when it is refused, removed or the host ends the meeting)
  --data DIR            a local server's data directory, to trust its certificate

${TRUST_HELP}`;

const STATS_INTERVAL_MS = 1000;

export const botCommand: Command = {
  summary: "join a meeting as an end-to-end encrypted Node participant",
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: "string" },
        name: { type: "string" },
        passcode: { type: "string" },
        duration: { type: "string" },
        json: { type: "boolean" },
        "no-media": { type: "boolean" },
        "receive-only": { type: "boolean" },
        "no-reconnect": { type: "boolean" },
        chat: { type: "string" },
        vote: { type: "string" },
        ...TRUST_OPTIONS,
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      io.out(BOT_HELP);
      return 0;
    }
    if (!values.url) throw new CliError("USAGE", "--url is required");
    if (values["no-media"] && values["receive-only"]) throw new CliError("USAGE", "--no-media and --receive-only exclude each other");
    let duration: number | null = null;
    if (values.duration !== undefined) {
      duration = Number(values.duration);
      if (!Number.isFinite(duration) || duration <= 0) throw new CliError("USAGE", "--duration must be a positive number of seconds");
    }
    let link;
    try {
      link = parseMeetingLink(values.url);
    } catch (e) {
      throw new CliError("USAGE", (e as Error).message);
    }
    const httpsUrl = new URL(link.signalingUrl.replace(/^wss:/, "https:"));
    const trust = resolveTrust(httpsUrl, values, localServerFiles(io.cwd, values.data ?? io.env.CONCLAVE_DATA).certFile);
    const tls: NodeSignalingOptions =
      trust.kind === "ca" ? { ca: trust.pem } : trust.kind === "fingerprint" ? { fingerprint: trust.fingerprint } : trust.kind === "insecure" ? { insecure: true } : {};
    if (trust.kind === "insecure") io.err("conclave bot: warning: --insecure accepts any certificate; use only for testing");

    const chatText = values.chat;
    if (chatText !== undefined && chatText.trim().length === 0) throw new CliError("USAGE", "--chat needs some text");
    let vote: number | null = null;
    if (values.vote !== undefined) {
      vote = Number(values.vote);
      if (!Number.isInteger(vote) || vote < 0 || vote > 9) throw new CliError("USAGE", "--vote must be an option number from 0 to 9");
    }
    const json = values.json === true;
    const print = (event: Record<string, unknown>) => {
      if (json) io.out(JSON.stringify(event));
      else io.out(humanLine(event));
    };

    const bot = new NodeParticipant({
      link,
      displayName: values.name ?? "Conclave bot",
      ...(values.passcode ? { passcode: values.passcode } : {}),
      sendMedia: values["no-media"] !== true && values["receive-only"] !== true,
      ...(values["no-media"] === true ? { media: false } : {}),
      reconnect: values["no-reconnect"] !== true,
      ...tls,
    });

    return new Promise<number>((resolve) => {
      let finished = false;
      let statsTimer: ReturnType<typeof setInterval> | null = null;
      let durationTimer: ReturnType<typeof setTimeout> | null = null;
      const finish = (code: number, error?: { code: string; message: string }) => {
        if (finished) return;
        finished = true;
        if (statsTimer) clearInterval(statsTimer);
        if (durationTimer) clearTimeout(durationTimer);
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        if (error) print({ event: "error", code: error.code, message: error.message });
        bot.leave();
        if (!error) print({ event: "left" });
        resolve(code);
      };
      const onSignal = () => finish(0);
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);

      bot.on("joined", ({ memberId }) => {
        print({ event: "joined", memberId });
        if (statsTimer) return; // joined again after a reconnect: the timers keep running
        statsTimer = setInterval(() => {
          const s = bot.stats();
          print({
            event: "stats",
            framesSent: s.framesSent,
            framesDecrypted: s.framesDecrypted,
            decryptFailures: s.decryptFailures,
            framesSkipped: s.framesSkipped,
            remoteMembers: s.remoteMembers,
            epoch: s.epoch === null ? null : Number(s.epoch),
            bySender: s.bySender,
          });
        }, STATS_INTERVAL_MS);
        if (duration !== null) durationTimer = setTimeout(() => finish(0), duration * 1000);
      });
      bot.on("waiting", ({ reason }) => print({ event: "waiting", reason }));
      bot.on("reconnecting", ({ attempt, delayMs, reason }) => print({ event: "reconnecting", attempt, delayMs, reason }));
      let chatSent = false;
      bot.on("epoch", (e) => {
        print(epochJson(e));
        if (chatText !== undefined && !chatSent) {
          chatSent = true;
          bot.collaboration.chat.send(chatText).catch((err: unknown) => print({ event: "error", code: (err as { code?: string }).code ?? "CLIENT_INTERNAL", message: err instanceof Error ? err.message : String(err) }));
        }
      });
      bot.on("chat", (m) => {
        if (m.mine) return;
        const common = { id: m.id, from: m.from, fromName: m.fromName, private: m.private, room: m.room };
        if (m.file) print({ event: "file", ...common, name: m.file.name, size: m.file.size });
        else print({ event: "chat", ...common, text: m.text });
      });
      bot.on("reaction", (r) => {
        if (r.from !== bot.memberId) print({ event: "reaction", from: r.from, fromName: r.fromName, emoji: r.emoji });
      });
      bot.on("hands", (h) => print({ event: "hands", raised: h.map((x) => ({ memberId: x.memberId, displayName: x.displayName })) }));
      const voted = new Set<string>();
      bot.on("poll", (p) => {
        print({
          event: "poll",
          pollId: p.pollId,
          question: p.question,
          options: p.options,
          multiple: p.multiple,
          anonymous: p.anonymous,
          launcher: p.launcher,
          launcherName: p.launcherName,
          open: p.open,
          voted: p.myChoices !== null,
          results: p.results,
        });
        if (vote !== null && p.open && !p.mine && p.myChoices === null && !voted.has(p.pollId) && vote < p.options.length) {
          voted.add(p.pollId);
          bot.collaboration.polls.vote(p.pollId, [vote]).catch((err: unknown) => print({ event: "error", code: (err as { code?: string }).code ?? "CLIENT_INTERNAL", message: err instanceof Error ? err.message : String(err) }));
        }
      });
      bot.on("breakout", (b) => print({ event: "breakout", open: b.open, rooms: b.rooms, endsAt: b.endsAt }));
      bot.on("room", ({ roomId }) => print({ event: "room", roomId }));
      bot.on("broadcast", (b) => print({ event: "broadcast", from: b.from, fromName: b.fromName, text: b.text }));
      bot.on("error", (e) => {
        if (e.fatal) finish(1, e);
      });
      bot.on("closed", ({ reason }) => {
        if (!finished) finish(1, { code: "DISCONNECTED", message: `The server closed the connection (${reason || "no reason given"}).` });
      });
      bot.join().catch((e: unknown) => finish(1, { code: connectErrorCode(e), message: e instanceof Error ? e.message : String(e) }));
    });
  },
};

/**
 * An `epoch` event: the epoch, its security code, and what the group's own credentials say about
 * who holds the keys — each member (for connectors their kind and far leg), the shield state and
 * the exceptions (every connection not encrypted all the way, with its far leg's protection).
 */
export function epochJson(e: EpochEvent): Record<string, unknown> {
  const identities = e.members.map((m) => m.identity);
  const shield = computeShield(e.encryption, identities);
  return {
    event: "epoch",
    epoch: Number(e.epoch),
    securityCode: e.securityCode,
    encryption: e.encryption,
    members: identities.map((m) =>
      m.kind === "connector"
        ? { memberId: m.memberId, name: m.displayName, kind: "connector", connectorKind: m.connector, farLeg: describeFarLeg(m.farLeg), protection: farLegProtection(m.farLeg) }
        : { memberId: m.memberId, name: m.displayName, kind: "person" },
    ),
    shield: shield.state,
    exceptions: shield.exceptions.map((x) => ({
      memberId: x.memberId,
      name: x.displayName,
      connectorKind: x.connector,
      protection: x.protection,
      farLeg: x.description,
    })),
  };
}

function connectErrorCode(e: unknown): string {
  // The server refused the request for the meeting's facts (MEETING_NOT_FOUND, RATE_LIMITED…).
  const serverCode = (e as { serverCode?: unknown } | undefined)?.serverCode;
  if (typeof serverCode === "string" && /^[A-Z_]{3,40}$/.test(serverCode)) return serverCode;
  const code = (e as NodeJS.ErrnoException | undefined)?.code ?? "";
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EHOSTUNREACH") return "SERVER_UNREACHABLE";
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code) || /fingerprint/.test(String((e as Error)?.message))) return "TLS_UNTRUSTED";
  return "CONNECT_FAILED" satisfies ClientErrorCode;
}

function humanLine(e: Record<string, unknown>): string {
  switch (e.event) {
    case "waiting":
      return e.reason === "hostAbsent" ? "waiting for the host to arrive" : "waiting for a host to let you in";
    case "joined":
      return `joined as ${String(e.memberId)}`;
    case "epoch": {
      const exceptions = (e.exceptions as { name: string; protection: string }[]).map((x) => `${x.name} (${x.protection})`);
      return `epoch ${String(e.epoch)}  security code ${String(e.securityCode)}  shield ${String(e.shield)}${exceptions.length ? `  exceptions: ${exceptions.join(", ")}` : ""}`;
    }
    case "stats":
      return `sent ${String(e.framesSent)}  decrypted ${String(e.framesDecrypted)}  failures ${String(e.decryptFailures)}  remote members ${String(e.remoteMembers)}`;
    case "reconnecting":
      return `connection lost (${String(e.reason)}); joining again in ${String(e.delayMs)} ms (attempt ${String(e.attempt)})`;
    case "chat":
      return `${e.private ? "(private) " : ""}${String(e.fromName)}: ${String(e.text)}`;
    case "file":
      return `${e.private ? "(private) " : ""}${String(e.fromName)} shared a file: ${String(e.name)} (${String(e.size)} bytes)`;
    case "reaction":
      return `${String(e.fromName)} reacted ${String(e.emoji)}`;
    case "hands":
      return `raised hands: ${(e.raised as { displayName: string }[]).map((h) => h.displayName).join(", ") || "none"}`;
    case "poll":
      return `poll "${String(e.question)}"${e.open ? "" : " (closed)"}${e.results ? ` results ${JSON.stringify(e.results)}` : ""}`;
    case "breakout":
      return e.open ? `breakout rooms open: ${(e.rooms as { name: string }[]).map((r) => r.name).join(", ")}` : "breakout rooms closed";
    case "room":
      return e.roomId === null ? "back in the main meeting" : `moved to breakout room ${String(e.roomId)}`;
    case "broadcast":
      return `broadcast from ${String(e.fromName)}: ${String(e.text)}`;
    case "left":
      return "left the meeting";
    case "error":
      return `error ${String(e.code)}: ${String(e.message)}`;
    default:
      return JSON.stringify(e);
  }
}
