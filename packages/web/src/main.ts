/**
 * The Conclave web app. Paths: `/` (the start page and, after the `#`, the signed-in pages)
 * and `/m/<id>` (join, then the meeting). The server answers both with index.html; this file
 * picks the screen. The signed-in pages live in the fragment (`#/meetings`, `#/settings`,
 * `#/admin/...`) because the server serves the app only at those two paths; an invitation link
 * is `/#invite=<token>` and an admin-token link `/#token=<token>`, so neither secret is ever
 * sent to the server in a URL.
 *
 * `window.conclave` exposes read-only diagnostics (frame counters from the E2EE worker, the
 * current epoch and phase) and a way to simulate a network blip, for tests and support. It
 * never exposes keys, frames or the passcode.
 */
import "./zod-config.js"; // first: before the protocol's schemas are built
import { chooseLocale, currentLocale, setLocale, t } from "./i18n/i18n.js";
import { currentUser, setupRequired, signOut, type User, isAdmin } from "./api/accounts.js";
import { csrfToken, setSessionExpiredHandler } from "./api/http.js";
import type { WorkerStats } from "./e2ee/messages.js";
import { LocalMedia } from "./media/local-media.js";
import { parseRoute, type Route } from "./routes.js";
import { MeetingController, type MeetingPhase } from "./meeting/meeting-controller.js";
import { renderAdminGroupPage, renderAdminGroupsPage } from "./ui/admin/groups-page.js";
import { renderAdminMeetingsPage } from "./ui/admin/meetings-page.js";
import { renderAdminSettingsPage } from "./ui/admin/settings-page.js";
import { renderAdminUsersPage } from "./ui/admin/users-page.js";
import { brandHeader, errorBox } from "./ui/common.js";
import { h, replaceChildren } from "./ui/dom.js";
import { renderJoinView, type JoinRequest } from "./ui/join-view.js";
import { MeetingView } from "./ui/meeting-view.js";
import { renderMeetingsPage } from "./ui/meetings-page.js";
import { renderRecordingsPage } from "./ui/recordings-page.js";
import { renderMySettingsPage } from "./ui/my-settings-page.js";
import { pageHead, renderShell, type Section } from "./ui/shell.js";
import { renderAcceptInvitation, signInCard } from "./ui/sign-in-view.js";
import { renderStartView } from "./ui/start-view.js";
import { UiError } from "./errors.js";

interface Diagnostics {
  stats(): WorkerStats | null;
  phase(): MeetingPhase | null;
  epoch(): string | null;
  memberId(): string | null;
  /** Codes of recent non-fatal errors (no messages, no secrets). */
  errors(): string[];
  /** Drops the signaling connection as a network blip would (the app reconnects). */
  simulateNetworkBlip(): void;
  /** Labels of the camera and microphone in use (device names, nothing secret). */
  devices(): { camera: string | null; microphone: string | null };
}

declare global {
  interface Window {
    conclave: Diagnostics;
  }
}

// The language, from the browser's preferences, before anything is rendered.
setLocale(chooseLocale(navigator.languages ?? [navigator.language]));
document.documentElement.lang = currentLocale();

let current: MeetingController | null = null;
let currentMedia: LocalMedia | null = null;

window.conclave = {
  stats: () => current?.stats ?? null,
  phase: () => current?.snapshot.phase ?? null,
  epoch: () => current?.snapshot.epoch?.toString() ?? null,
  memberId: () => current?.snapshot.selfId ?? null,
  errors: () => [...(current?.recentErrors ?? [])],
  simulateNetworkBlip: () => current?.dropConnection(),
  devices: () => ({ camera: currentMedia?.camera?.label ?? null, microphone: currentMedia?.microphone?.label ?? null }),
};

const root = document.getElementById("app") ?? document.body;

function navigate(path: string): void {
  history.pushState(null, "", path);
  void route();
}

/** The signed-in user: undefined until asked, null when signed out. */
let user: User | null | undefined;
/** The CSRF cookie `user` was learnt with: another tab signing in or out changes it. */
let userCookie: string | null = null;
/** Why the person is on the sign-in form (their session ended), shown once. */
let notice: UiError | null = null;
/** The page to return to after signing in. */
let returnTo: string | null = null;
/** Increases with every render, so a slow page load never paints over a newer one. */
let renderSeq = 0;

async function knownUser(): Promise<User | null> {
  if (user !== undefined && csrfToken() === userCookie) return user;
  userCookie = csrfToken();
  try {
    user = await currentUser({ quietExpiry: true });
  } catch (e) {
    user = null;
    notice = e instanceof UiError ? e : new UiError("INTERNAL");
  }
  return user;
}

// Any later request that finds the session gone: back to sign-in, then back here.
setSessionExpiredHandler(() => {
  if (current) return; // in a meeting: the meeting goes on; the session is not needed there
  user = null;
  notice = new UiError("SESSION_EXPIRED");
  returnTo = location.hash.startsWith("#/") ? location.hash : null;
  history.replaceState(null, "", "/#/signin");
  void route();
});

function onSignedIn(u: User): void {
  user = u;
  userCookie = csrfToken();
  notice = null;
  const to = returnTo ?? "#/meetings";
  returnTo = null;
  navigate(`/${to}`);
}

async function route(): Promise<void> {
  const seq = ++renderSeq;
  const r = parseRoute(location.pathname, location.hash);
  if (r.kind === "meeting") {
    const meetingId = r.id;
    const passcode = new URLSearchParams(location.hash.replace(/^#/, "")).get("pwd") ?? undefined;
    document.title = title(t("title.join"));
    const media = new LocalMedia();
    currentMedia = media;
    showJoin(meetingId, passcode, media);
    return;
  }
  if (r.kind === "not-found") {
    showNotFound(r.meetingLink);
    return;
  }
  if (r.kind === "invite") {
    // The token leaves the address bar (and history) at once.
    history.replaceState(null, "", "/");
    document.title = title(t("title.accept"));
    renderAcceptInvitation(root, r.token, onSignedIn);
    return;
  }
  // Asked to sign in: check the session afresh (it may have ended elsewhere).
  if (r.kind === "start" && r.signIn && user) user = undefined;
  const u = await knownUser();
  if (seq !== renderSeq) return;
  if (r.kind === "start") {
    if (u && !r.signIn && !location.hash.includes("token=")) {
      history.replaceState(null, "", "/#/meetings");
      await showPage({ kind: "meetings" }, u);
      return;
    }
    await showStart(r.signIn, u);
    return;
  }
  if (!u) {
    returnTo = location.hash;
    history.replaceState(null, "", "/#/signin");
    notice ??= new UiError("UNAUTHENTICATED");
    await showStart(true, null);
    return;
  }
  await showPage(r, u);
}

async function showStart(focusAccount: boolean, u: User | null): Promise<void> {
  const seq = renderSeq;
  document.title = focusAccount ? title(t("title.signIn")) : t("common.brand");
  let accountCard: HTMLElement;
  if (u) {
    accountCard = h(
      "section",
      { class: "card", "aria-labelledby": "account-title" },
      h("h2", { id: "account-title" }, t("start.signedInAs", { name: u.name })),
      h("p", { class: "muted" }, t("start.signedInLead")),
      h("a", { class: "button primary", href: "#/meetings" }, t("start.goToMeetings")),
    );
  } else {
    let needsSetup = false;
    try {
      needsSetup = await setupRequired();
    } catch (e) {
      notice = e instanceof UiError ? e : new UiError("INTERNAL");
    }
    if (seq !== renderSeq) return;
    accountCard = signInCard({ setupRequired: needsSetup, notice, onSignedIn });
    notice = null;
  }
  renderStartView(root, { navigate, accountCard, focusAccount });
}

const SECTION: Record<Exclude<Route["kind"], "meeting" | "start" | "invite" | "not-found">, Section> = {
  meetings: "meetings",
  recordings: "recordings",
  settings: "settings",
  "admin-settings": "admin",
  "admin-users": "admin",
  "admin-groups": "admin",
  "admin-group": "admin",
  "admin-meetings": "admin",
};

async function showPage(r: Exclude<Route, { kind: "meeting" | "start" | "invite" | "not-found" }>, u: User): Promise<void> {
  const main = renderShell(root, { user: u, section: SECTION[r.kind], onSignOut: (button) => void doSignOut(button) });
  if (SECTION[r.kind] === "admin" && !isAdmin(u)) {
    document.title = title(t("shell.admin"));
    replaceChildren(main, pageHead(t("shell.admin")), errorBox(new UiError("FORBIDDEN")));
    return;
  }
  switch (r.kind) {
    case "meetings":
      document.title = title(t("shell.meetings"));
      return renderMeetingsPage(main, u);
    case "recordings":
      document.title = title(t("shell.recordings"));
      return renderRecordingsPage(main);
    case "settings":
      document.title = title(t("shell.mySettings"));
      return renderMySettingsPage(main, {
        user: u,
        onRenamed: (renamed) => {
          user = renamed;
          void route();
        },
        onSignedOutEverywhere: () => {
          user = null;
          navigate("/");
        },
      });
    case "admin-settings":
      document.title = title(t("title.adminSettings"));
      return renderAdminSettingsPage(main, r.level);
    case "admin-users":
      document.title = title(t("title.adminUsers"));
      return renderAdminUsersPage(main, u);
    case "admin-groups":
      document.title = title(t("title.adminGroups"));
      return renderAdminGroupsPage(main);
    case "admin-group":
      document.title = title(t("title.adminGroup"));
      return renderAdminGroupPage(main, r.id);
    case "admin-meetings":
      document.title = title(t("title.adminMeetings"));
      return renderAdminMeetingsPage(main);
  }
}

async function doSignOut(button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  try {
    await signOut();
  } catch {
    // Already signed out on the server (expired): the result is the same.
  }
  user = null;
  navigate("/");
}

function showJoin(meetingId: string, passcode: string | undefined, media: LocalMedia, error?: UiError): void {
  void renderJoinView(root, {
    meetingId,
    passcode,
    media,
    // Signed in: the join screen says so (and whether you host), and offers your name.
    signedIn: knownUser(),
    ...(error ? { error } : {}),
    onJoin: (req) => startMeeting(meetingId, req, media),
  });
}

function startMeeting(meetingId: string, req: JoinRequest, media: LocalMedia): void {
  document.title = title(t("meeting.meeting"));
  const controller = new MeetingController({
    meetingId,
    passcode: req.passcode,
    displayName: req.displayName,
    encryption: req.info.encryption,
    postQuantum: req.info.postQuantum,
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
    if (s.phase === "failed" && s.error) {
      controller.onChange = null;
      view.close();
      current = null;
      // A refused first join (wrong passcode, locked, not let in) goes back to the join screen;
      // someone who was in (removed by the host, the meeting vanished) is told why, on its own.
      if (everIn) showOut(meetingId, s.error, media);
      else showJoin(meetingId, req.passcode, media, s.error);
      return;
    }
    view.render(s);
  };
  controller.start();
}

/** "Page · Conclave" for the window title. */
function title(page: string): string {
  return `${page} · ${t("common.brand")}`;
}

/** Nothing at this address (the server answered 404 with this page): say so, in words. */
function showNotFound(meetingLink: boolean): void {
  document.title = title(t("notFound.pageTitle"));
  const heading = h("h1", { tabindex: "-1" }, meetingLink ? t("notFound.meetingTitle") : t("notFound.title"));
  replaceChildren(
    root,
    brandHeader(),
    h(
      "main",
      { class: "left-screen", id: "main", "data-testid": "not-found", "data-meeting-link": String(meetingLink) },
      heading,
      h("p", {}, meetingLink ? t("notFound.meetingText", { host: location.host }) : t("notFound.text")),
      h("div", { class: "row" }, h("a", { class: "button primary", href: "/" }, t("common.startPageShort"))),
    ),
  );
  heading.focus();
}

function showLeft(meetingId: string): void {
  current = null;
  document.title = t("common.brand");
  const rejoin = h("a", { class: "button primary", href: `/m/${meetingId}${location.hash}` }, t("left.rejoin"));
  replaceChildren(
    root,
    h(
      "main",
      { class: "left-screen", id: "main" },
      h("h1", {}, t("left.title")),
      h("p", {}, t("left.text")),
      h("div", { class: "row" }, rejoin, h("a", { class: "button", href: "/" }, t("common.startPageShort"))),
    ),
  );
  rejoin.focus();
}

/** Out of the meeting without leaving: removed by a host, or the meeting is gone. Says why. */
function showOut(meetingId: string, error: UiError, media: LocalMedia): void {
  media.stop();
  document.title = t("common.brand");
  const rejoin = h("a", { class: "button primary", href: `/m/${meetingId}${location.hash}` }, t("out.joinAgain"));
  const home = h("a", { class: "button", href: "/" }, t("common.startPageShort"));
  const heading = h("h1", { tabindex: "-1" }, t("out.title"));
  replaceChildren(
    root,
    brandHeader(),
    h(
      "main",
      { class: "left-screen", id: "main", "data-testid": "meeting-exit" },
      heading,
      errorBox(error, ...(error.code === "BANNED" ? [home] : [rejoin, home])),
    ),
  );
  heading.focus();
}

// Back, forward and in-app links (#/...) all arrive here; in a meeting, the leave button leaves.
window.addEventListener("popstate", () => {
  if (current) return;
  void route();
});
window.addEventListener("pagehide", () => current?.leave());

void route();
