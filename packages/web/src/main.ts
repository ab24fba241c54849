/**
 * The Conclave web app. Routes: `/` (start or open a meeting) and `/m/<id>` (join, then the
 * meeting). The server answers both with index.html; this file picks the screen.
 *
 * `window.conclave` exposes read-only diagnostics (frame counters from the E2EE worker, the
 * current epoch and phase) and a way to simulate a network blip, for tests and support. It
 * never exposes keys, frames or the passcode.
 */
import "./zod-config.js"; // first: before the protocol's schemas are built
import type { WorkerStats } from "./e2ee/messages.js";
import { LocalMedia } from "./media/local-media.js";
import { MeetingController, type MeetingPhase } from "./meeting/meeting-controller.js";
import { renderJoinView, type JoinRequest } from "./ui/join-view.js";
import { MeetingView } from "./ui/meeting-view.js";
import { renderStartView } from "./ui/start-view.js";
import type { UiError } from "./errors.js";

interface Diagnostics {
  stats(): WorkerStats | null;
  phase(): MeetingPhase | null;
  epoch(): string | null;
  memberId(): string | null;
  /** Codes of recent non-fatal errors (no messages, no secrets). */
  errors(): string[];
  /** Drops the signaling connection as a network blip would (the app reconnects). */
  simulateNetworkBlip(): void;
}

declare global {
  interface Window {
    conclave: Diagnostics;
  }
}

let current: MeetingController | null = null;

window.conclave = {
  stats: () => current?.stats ?? null,
  phase: () => current?.snapshot.phase ?? null,
  epoch: () => current?.snapshot.epoch?.toString() ?? null,
  memberId: () => current?.snapshot.selfId ?? null,
  errors: () => [...(current?.recentErrors ?? [])],
  simulateNetworkBlip: () => current?.dropConnection(),
};

const root = document.getElementById("app") ?? document.body;

function navigate(path: string): void {
  history.pushState(null, "", path);
  route();
}

function route(): void {
  const m = /^\/m\/([0-9]{6,32})\/?$/.exec(location.pathname);
  if (!m) {
    document.title = "Conclave";
    renderStartView(root, navigate);
    return;
  }
  const meetingId = m[1]!;
  const passcode = new URLSearchParams(location.hash.replace(/^#/, "")).get("pwd") ?? undefined;
  document.title = "Join meeting · Conclave";
  const media = new LocalMedia();
  showJoin(meetingId, passcode, media);
}

function showJoin(meetingId: string, passcode: string | undefined, media: LocalMedia, error?: UiError): void {
  void renderJoinView(root, {
    meetingId,
    passcode,
    media,
    ...(error ? { error } : {}),
    onJoin: (req) => startMeeting(meetingId, req, media),
  });
}

function startMeeting(meetingId: string, req: JoinRequest, media: LocalMedia): void {
  document.title = "Meeting · Conclave";
  const controller = new MeetingController({
    meetingId,
    passcode: req.passcode,
    displayName: req.displayName,
    encryption: req.info.encryption,
    mode: req.mode,
    media,
  });
  current = controller;
  const view = new MeetingView(root, {
    meetingId,
    displayName: req.displayName,
    controller,
    media,
    onLeft: () => showLeft(meetingId),
  });
  let everIn = false;
  controller.onChange = (s) => {
    if (s.phase === "in-meeting") everIn = true;
    // A refused first join (wrong passcode, full, rate limited) goes back to the join screen.
    if (s.phase === "failed" && !everIn && s.error) {
      controller.onChange = null;
      view.close();
      current = null;
      showJoin(meetingId, req.passcode, media, s.error);
      return;
    }
    view.render(s);
  };
  controller.start();
}

function showLeft(meetingId: string): void {
  current = null;
  document.title = "Conclave";
  root.replaceChildren();
  const main = document.createElement("main");
  main.className = "left-screen";
  main.id = "main";
  const h1 = document.createElement("h1");
  h1.textContent = "You left the meeting";
  const p = document.createElement("p");
  p.textContent = "Your keys for this meeting were erased from this device.";
  const rejoin = document.createElement("a");
  rejoin.className = "button primary";
  rejoin.href = `/m/${meetingId}${location.hash}`;
  rejoin.textContent = "Rejoin";
  const home = document.createElement("a");
  home.className = "button";
  home.href = "/";
  home.textContent = "Start page";
  const row = document.createElement("div");
  row.className = "row";
  row.append(rejoin, home);
  main.append(h1, p, row);
  root.append(main);
  rejoin.focus();
}

window.addEventListener("popstate", () => {
  if (current) return; // in a meeting: the leave button leaves
  route();
});
window.addEventListener("pagehide", () => current?.leave());

route();
