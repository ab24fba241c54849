/**
 * Accounts in the browser, through the real server: owner setup, sign-in and sign-out, a forged
 * or ended session, invitations, the admin portal (settings with locks at account and group
 * level, users, groups, all meetings), and scheduling within one's settings. No media here: one
 * browser process, a context per person (Olive the owner, Bob a member), each signed in with its
 * own cookies.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Locator, Page } from "playwright-core";
import { auditControls } from "./support/a11y.js";
import { api, apiOk, cookieNames, invitedMember, OWNER, type Person } from "./support/accounts.js";
import { eventually, launchBrowser, openPage, startTestServer, type Participant, type TestServer } from "./support/harness.js";
import { screenshotPath } from "./support/screenshots.js";

const BOB: Person = { email: "bob@example.com", name: "Bob Member", password: "bob's long password" };

let server: TestServer;
let browser: Browser;
let olive: Participant;
let bob: Participant;
let bobId: string;
let salesId: string;
/** Every state-changing API request the watched pages sent, with its cookies and CSRF header. */
const stateChanging: Promise<{ what: string; session: boolean; csrfCookie: string | null; csrfHeader: string | null }>[] = [];

function watchRequests(page: Page): void {
  page.on("request", (req) => {
    if (req.method() === "GET" || !new URL(req.url()).pathname.startsWith("/api/")) return;
    stateChanging.push(
      req.allHeaders().then((headers) => {
        const cookies = new Map((headers.cookie ?? "").split(";").map((c) => c.trim().split("=") as [string, string]));
        return {
          what: `${req.method()} ${new URL(req.url()).pathname}`,
          session: cookies.has("conclave_session"),
          csrfCookie: cookies.get("conclave_csrf") ?? null,
          csrfHeader: headers["x-csrf-token"] ?? null,
        };
      }),
    );
  });
}

before(async () => {
  server = await startTestServer();
  browser = await launchBrowser(server);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

function row(page: Page, key: string): Locator {
  return page.locator(`[data-testid="setting-row"][data-setting-key="${key}"]`);
}

async function signInThroughForm(page: Page, who: Person): Promise<void> {
  await page.getByTestId("signin-email").fill(who.email);
  await page.getByTestId("signin-password").fill(who.password);
  await page.getByTestId("signin-submit").click();
}

async function openMySettings(page: Page): Promise<void> {
  await page.goto(`${server.origin}/#/settings`);
  await page.getByTestId("settings-list").waitFor();
}

async function openAdminSettings(page: Page, hash = "#/admin/settings"): Promise<void> {
  await page.goto(`${server.origin}/${hash}`);
  await page.getByTestId("admin-settings").waitFor();
}

/** A screenshot of the whole top of the page at `height` pixels, without a focus ring. */
async function screenshotTop(page: Page, name: "admin-settings" | "schedule", height: number): Promise<void> {
  const size = page.viewportSize();
  await page.setViewportSize({ width: 1280, height });
  await page.evaluate(() => {
    (document.activeElement as HTMLElement | null)?.blur();
    window.scrollTo(0, 0);
  });
  await page.screenshot({ path: screenshotPath(name) });
  if (size) await page.setViewportSize(size);
}

/** Clicks a row's control and waits for the row to say it saved. */
async function saveInRow(page: Page, key: string, testid: "setting-value" | "setting-lock" | "setting-reset"): Promise<void> {
  await row(page, key).getByTestId(testid).click();
  await row(page, key).getByTestId("setting-saved").waitFor();
}

test("a fresh server offers owner setup; the owner is signed in with an HttpOnly session cookie and lands on Meetings", async () => {
  olive = await openPage(browser, `${server.origin}/`);
  watchRequests(olive.page);
  const form = olive.page.getByTestId("setup-form");
  await form.waitFor();
  assert.match((await form.textContent()) ?? "", /Set up this server/);
  assert.deepEqual(await auditControls(olive.page), [], "setup page");
  // A short password is refused before anything is sent.
  await olive.page.getByTestId("setup-name").fill(OWNER.name);
  await olive.page.getByTestId("setup-email").fill(OWNER.email);
  await olive.page.getByTestId("setup-password").fill("short");
  await olive.page.getByTestId("setup-submit").click();
  assert.equal(await olive.page.getByTestId("setup-status").getByTestId("error").getAttribute("data-error-code"), "WEAK_PASSWORD");
  await olive.page.getByTestId("setup-password").fill(OWNER.password);
  await olive.page.getByTestId("setup-submit").click();
  await olive.page.getByTestId("schedule-form").waitFor();
  assert.equal(await olive.page.evaluate(() => location.hash), "#/meetings");
  assert.match((await olive.page.getByTestId("signed-in-as").textContent()) ?? "", /Olive Owner · Owner/);
  const cookies = await olive.context.cookies();
  const session = cookies.find((c) => c.name === "conclave_session");
  assert.ok(session?.httpOnly && session.secure && session.sameSite === "Strict", JSON.stringify(session));
  assert.equal(await olive.page.evaluate(() => document.cookie.includes("conclave_session")), false, "scripts cannot read the session cookie");
});

test("sign-in: a wrong password gets a clear message; signing out ends the session and protected pages ask to sign in", async () => {
  const p = await openPage(browser, `${server.origin}/#/signin`);
  watchRequests(p.page);
  await p.page.getByTestId("sign-in-form").waitFor();
  assert.deepEqual(await auditControls(p.page), [], "sign-in page");
  await signInThroughForm(p.page, { ...OWNER, password: "not the password" });
  const err = p.page.getByTestId("signin-status").getByTestId("error");
  await err.waitFor();
  assert.equal(await err.getAttribute("data-error-code"), "LOGIN_FAILED");
  assert.match((await err.textContent()) ?? "", /Wrong email or password/);
  assert.equal(await p.page.evaluate(() => document.activeElement?.getAttribute("data-testid")), "signin-password", "focus back on the password");

  await signInThroughForm(p.page, OWNER);
  await p.page.getByTestId("schedule-form").waitFor();
  await p.page.getByTestId("sign-out").click();
  await p.page.getByTestId("sign-in-form").waitFor();
  assert.deepEqual(await cookieNames(p.page), [], "both cookies are cleared");
  assert.equal((await api(p.page, "GET", "/api/me")).status, 401);
  // A signed-in page, opened signed out, asks to sign in, then comes back to it.
  await p.page.goto(`${server.origin}/#/admin/users`);
  await p.page.getByTestId("signin-notice").waitFor();
  assert.equal(await p.page.getByTestId("signin-notice").getByTestId("error").getAttribute("data-error-code"), "UNAUTHENTICATED");
  await signInThroughForm(p.page, OWNER);
  await p.page.getByTestId("user-list").waitFor();
  assert.equal(await p.page.evaluate(() => location.hash), "#/admin/users");
  await p.context.close();
});

test("a forged session cookie sends you to sign-in with a message, as does a session ended from elsewhere", async () => {
  const forged = await openPage(browser, `${server.origin}/favicon.svg`, async (context) => {
    const cookie = { domain: "127.0.0.1", path: "/", secure: true, sameSite: "Strict" as const };
    await context.addCookies([
      { ...cookie, name: "conclave_session", value: "forged-session-id-forged-session-id-forged", httpOnly: true },
      { ...cookie, name: "conclave_csrf", value: "forged-csrf-token" },
    ]);
  });
  await forged.page.goto(`${server.origin}/#/meetings`);
  const notice = forged.page.getByTestId("signin-notice");
  await notice.waitFor();
  assert.equal(await notice.getByTestId("error").getAttribute("data-error-code"), "SESSION_EXPIRED");
  assert.match((await notice.textContent()) ?? "", /Your session has ended/);
  await forged.context.close();

  // Two browsers of Olive's; one signs out everywhere; the other's next request finds it out.
  const a = await openPage(browser, `${server.origin}/#/signin`);
  await signInThroughForm(a.page, OWNER);
  await a.page.getByTestId("schedule-form").waitFor();
  const b = await openPage(browser, `${server.origin}/#/signin`);
  watchRequests(b.page);
  await signInThroughForm(b.page, OWNER);
  await b.page.getByTestId("schedule-form").waitFor();
  await b.page.getByTestId("nav-settings").click();
  await b.page.getByTestId("sign-out-everywhere").click();
  await b.page.getByTestId("confirm-sign-out-everywhere").getByTestId("confirm-ok").click();
  await b.page.getByTestId("sign-in-form").waitFor();
  await a.page.getByTestId("nav-settings").click();
  await a.page.getByTestId("signin-notice").waitFor();
  assert.equal(await a.page.getByTestId("signin-notice").getByTestId("error").getAttribute("data-error-code"), "SESSION_EXPIRED");
  assert.equal(await a.page.evaluate(() => location.hash), "#/signin");
  await a.context.close();
  await b.context.close();
  // Olive's first browser was signed out too: sign it in again.
  await olive.page.goto(`${server.origin}/#/signin`);
  await signInThroughForm(olive.page, OWNER);
  await olive.page.getByTestId("schedule-form").waitFor();
});

test("the owner invites Bob through the admin portal; the link (shown once) opens a page where Bob creates his account and is signed in", async () => {
  await olive.page.getByTestId("nav-admin").click();
  await olive.page.getByTestId("admin-tab-users").click();
  await olive.page.getByTestId("invite-email").fill(BOB.email);
  await olive.page.getByTestId("invite-submit").click();
  const link = await olive.page.getByTestId("invitation-link").inputValue();
  assert.match(link, /^https:\/\/127\.0\.0\.1:\d+\/#invite=[A-Za-z0-9_-]{30,}$/);
  await olive.page.getByTestId("invitation-item").waitFor();

  bob = await openPage(browser, link);
  watchRequests(bob.page);
  await bob.page.getByTestId("accept-form").waitFor();
  assert.equal(await bob.page.evaluate(() => location.hash), "", "the token leaves the address bar at once");
  assert.deepEqual(await auditControls(bob.page), [], "accept-invitation page");
  await bob.page.getByTestId("accept-name").fill(BOB.name);
  await bob.page.getByTestId("accept-password").fill(BOB.password);
  await bob.page.getByTestId("accept-submit").click();
  await bob.page.getByTestId("schedule-form").waitFor();
  assert.match((await bob.page.getByTestId("signed-in-as").textContent()) ?? "", /Bob Member · Member/);
  assert.equal(await bob.page.getByTestId("nav-admin").count(), 0, "members have no Admin section");
  bobId = (await apiOk<{ user: { id: string } }>(bob.page, "GET", "/api/me")).user.id;

  // Used twice, the link says so.
  const again = await openPage(browser, link);
  await again.page.getByTestId("accept-name").fill("Mallory");
  await again.page.getByTestId("accept-password").fill("mallory's password");
  await again.page.getByTestId("accept-submit").click();
  const err = again.page.getByTestId("accept-status").getByTestId("error");
  await err.waitFor();
  assert.equal(await err.getAttribute("data-error-code"), "INVITATION_INVALID");
  await again.context.close();
});

test("groups: the owner creates Sales and adds Bob through the portal", async () => {
  await olive.page.getByTestId("admin-tab-groups").click();
  await olive.page.getByTestId("group-name").fill("Sales");
  await olive.page.getByTestId("group-create").click();
  await olive.page.getByTestId("group-detail").waitFor();
  salesId = decodeURIComponent(/#\/admin\/groups\/(.+)$/.exec(await olive.page.evaluate(() => location.hash))![1]!);
  await olive.page.getByTestId("group-add-user").selectOption({ label: `${BOB.name} (${BOB.email})` });
  await olive.page.getByTestId("group-add").click();
  await olive.page.locator(`[data-testid="group-member"][data-email="${BOB.email}"]`).waitFor();
  assert.deepEqual(await auditControls(olive.page), [], "group page");
  const me = await apiOk<{ user: { groupId: string } }>(bob.page, "GET", "/api/me");
  assert.equal(me.user.groupId, salesId);
});

test("an account lock is read-only for the member, with the lock shown, and the API refuses the member's change with SETTING_LOCKED", async () => {
  await openAdminSettings(olive.page);
  assert.deepEqual(await auditControls(olive.page), [], "admin settings page");
  await saveInRow(olive.page, "passcodeRequired", "setting-lock");
  assert.equal(await row(olive.page, "passcodeRequired").getAttribute("data-locked"), "true");
  assert.equal(await row(olive.page, "passcodeRequired").getByTestId("setting-lock").getAttribute("aria-pressed"), "true");
  // Features that need a server-side member say why E2EE meetings cannot have them.
  for (const key of ["cloudRecording", "chatHistory", "phoneDialIn", "liveStreaming", "liveTranscription"]) {
    assert.match((await row(olive.page, key).getByTestId("e2ee-unavailable").textContent()) ?? "", /Unavailable in end-to-end encrypted meetings/);
  }
  assert.equal(await row(olive.page, "fileSharing").count(), 1);
  assert.equal(await row(olive.page, "polling").getByTestId("e2ee-unavailable").count(), 0);

  await openMySettings(bob.page);
  const locked = row(bob.page, "passcodeRequired");
  assert.equal(await locked.getAttribute("data-writable"), "false");
  assert.equal(await locked.getByTestId("setting-value").isDisabled(), true);
  assert.equal(await locked.getByTestId("setting-value").isChecked(), true);
  assert.equal(await locked.getByTestId("setting-locked-note").textContent(), "Locked by your account admin");
  assert.equal(await locked.locator("svg").count() >= 1, true, "a lock icon");
  const refused = await api<{ error: { code: string } }>(bob.page, "PATCH", `/api/settings/users/${bobId}`, { passcodeRequired: { value: false } });
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.code, "SETTING_LOCKED");
  assert.deepEqual(await auditControls(bob.page), [], "my settings page");
});

test("a group lock beats the member's own value, and a lock that arrives while the page is open is refused in the row and then shown", async () => {
  // Bob turns his waiting room off for himself.
  await saveInRow(bob.page, "waitingRoom", "setting-value");
  assert.equal(await row(bob.page, "waitingRoom").getByTestId("setting-value").isChecked(), false);
  // Olive locks it on for Sales.
  await openAdminSettings(olive.page);
  await olive.page.getByTestId("settings-level").selectOption({ label: "Group: Sales" });
  await eventually("the group level", 10_000, async () => /Group settings: Sales/.test((await olive.page.getByTestId("admin-settings").textContent()) ?? ""));
  await row(olive.page, "waitingRoom").waitFor();
  assert.equal(await row(olive.page, "passcodeRequired").getByTestId("setting-locked-note").textContent(), "Locked by your account admin", "the account's lock shows at group level");
  assert.equal(await row(olive.page, "passcodeRequired").getByTestId("setting-lock").isDisabled(), true);
  await saveInRow(olive.page, "waitingRoom", "setting-lock");
  await screenshotTop(olive.page, "admin-settings", 1440);

  await openMySettings(bob.page);
  const wr = row(bob.page, "waitingRoom");
  assert.equal(await wr.getByTestId("setting-value").isChecked(), true, "the group's value wins over Bob's");
  assert.equal(await wr.getByTestId("setting-locked-note").textContent(), "Locked by your group admin");
  const levels = await apiOk<{ settings: Record<string, { value: unknown; effective: unknown; source: string }> }>(bob.page, "GET", `/api/settings/users/${bobId}`);
  assert.deepEqual(levels.settings.waitingRoom, { ...levels.settings.waitingRoom, value: false, effective: true, source: "group" });

  // Bob's page shows joinBeforeHost as his to change; meanwhile Olive locks it for Sales.
  assert.equal(await row(bob.page, "joinBeforeHost").getAttribute("data-writable"), "true");
  await apiOk(olive.page, "PATCH", `/api/settings/groups/${salesId}`, { joinBeforeHost: { value: false, locked: true } });
  await row(bob.page, "joinBeforeHost").getByTestId("setting-value").click();
  const err = row(bob.page, "joinBeforeHost").getByTestId("error");
  await err.waitFor();
  assert.equal(await err.getAttribute("data-error-code"), "SETTING_LOCKED");
  assert.match((await err.textContent()) ?? "", /Locked by an admin/);
  assert.equal(await row(bob.page, "joinBeforeHost").getAttribute("data-writable"), "false", "the row now shows the lock");
  assert.equal(await row(bob.page, "joinBeforeHost").getByTestId("setting-value").isChecked(), false);
});

test("unlocked at account level, the member can change the setting again", async () => {
  await openAdminSettings(olive.page);
  await saveInRow(olive.page, "passcodeRequired", "setting-lock");
  assert.equal(await row(olive.page, "passcodeRequired").getAttribute("data-locked"), "false");
  await openMySettings(bob.page);
  assert.equal(await row(bob.page, "passcodeRequired").getAttribute("data-writable"), "true");
  await saveInRow(bob.page, "passcodeRequired", "setting-value");
  const eff = await apiOk<{ settings: Record<string, { value: unknown; source: string }> }>(bob.page, "GET", "/api/settings/effective");
  assert.deepEqual([eff.settings.passcodeRequired?.value, eff.settings.passcodeRequired?.source], [false, "user"]);
  // Reset returns to the inherited value.
  await saveInRow(bob.page, "passcodeRequired", "setting-reset");
  assert.equal(await row(bob.page, "passcodeRequired").getByTestId("setting-value").isChecked(), true);
});

test("scheduling: Bob creates, edits, gives a new passcode to and deletes a meeting through the UI; locked options are shown disabled with the reason", async () => {
  await bob.page.getByTestId("nav-meetings").click();
  const form = bob.page.getByTestId("schedule-form");
  await form.waitFor();
  // Sales locks the waiting room on and join-before-host off: shown, disabled, with who locked them.
  assert.equal(await form.getByTestId("meeting-waiting-room").isDisabled(), true);
  assert.equal(await form.getByTestId("meeting-waiting-room").isChecked(), true);
  assert.equal(await form.getByTestId("meeting-join-before-host").isDisabled(), true);
  assert.match((await form.textContent()) ?? "", /Locked by your group admin/);
  assert.equal(await form.getByTestId("schedule-encryption-e2ee").isChecked(), true);

  await form.getByTestId("meeting-topic").fill("Design review");
  await form.getByTestId("meeting-start").fill("2030-05-04T10:00");
  await form.getByTestId("meeting-duration").fill("45");
  await form.getByTestId("schedule-submit").click();
  const created = bob.page.getByTestId("meeting-created");
  await created.waitFor();
  const link = await created.getByTestId("created-link").inputValue();
  const passcode = (await created.getByTestId("created-passcode").textContent()) ?? "";
  assert.match(link, /\/m\/\d{11}#pwd=/);
  assert.ok(link.endsWith(`#pwd=${encodeURIComponent(passcode)}`), "the link carries the passcode shown");
  const id = /\/m\/(\d{11})/.exec(link)![1]!;
  const item = bob.page.locator(`[data-testid="meeting-item"][data-meeting-id="${id}"]`);
  await item.waitFor();
  assert.match((await item.textContent()) ?? "", /Design review/);
  const expectedStart = await bob.page.evaluate(() => new Date("2030-05-04T10:00").toISOString());
  let details = await apiOk<Record<string, unknown>>(bob.page, "GET", `/api/meetings/${id}`);
  assert.deepEqual(
    [details.topic, details.startAt, details.durationMin, details.encryption, details.waitingRoom, details.joinBeforeHost, details.passcodeRequired],
    ["Design review", expectedStart, 45, "e2ee", true, false, true],
  );
  await screenshotTop(bob.page, "schedule", 1180);
  assert.deepEqual(await auditControls(bob.page), [], "meetings page");

  // Edit in a dialog.
  await item.getByTestId("meeting-edit").click();
  const dialog = bob.page.getByTestId("edit-meeting-dialog");
  await dialog.waitFor();
  assert.equal(await bob.page.evaluate(() => document.activeElement?.getAttribute("data-testid")), "meeting-topic", "focus starts in the form");
  assert.deepEqual(await auditControls(bob.page), [], "edit dialog");
  await dialog.getByTestId("meeting-topic").fill("Design review (moved)");
  await dialog.getByTestId("meeting-duration").fill("30");
  await dialog.getByTestId("schedule-submit").click();
  await dialog.waitFor({ state: "detached" });
  await eventually("the list to show the new topic", 10_000, async () => (await item.getAttribute("data-topic")) === "Design review (moved)");
  details = await apiOk<Record<string, unknown>>(bob.page, "GET", `/api/meetings/${id}`);
  assert.deepEqual([details.topic, details.durationMin, details.startAt], ["Design review (moved)", 30, expectedStart]);

  // A new passcode: confirmed first, then shown once.
  await item.getByTestId("meeting-reset-passcode").click();
  await bob.page.getByTestId("confirm-passcode").getByTestId("confirm-ok").click();
  const fresh = await item.getByTestId("new-passcode-link").inputValue();
  assert.match(fresh, new RegExp(`/m/${id}#pwd=`));
  assert.notEqual(fresh, link);

  // Delete, confirmed.
  await item.getByTestId("meeting-delete").click();
  const confirm = bob.page.getByTestId("confirm-delete-meeting");
  await confirm.waitFor();
  assert.equal(await bob.page.evaluate(() => document.activeElement?.getAttribute("data-testid")), "confirm-cancel");
  await confirm.getByTestId("confirm-ok").click();
  await item.waitFor({ state: "detached" });
  assert.equal((await api(bob.page, "GET", `/api/meetings/${id}`)).status, 404);
});

test("with allowE2ee locked off, end-to-end encryption is not offered and new meetings use Enhanced encryption", async () => {
  await apiOk(olive.page, "PATCH", "/api/settings/account", { allowE2ee: { value: false, locked: true } });
  await bob.page.goto(`${server.origin}/#/meetings`);
  const form = bob.page.getByTestId("schedule-form");
  await form.waitFor();
  const e2ee = form.getByTestId("schedule-encryption-e2ee");
  assert.equal(await e2ee.isDisabled(), true);
  assert.equal(await e2ee.isChecked(), false);
  assert.equal(await form.getByTestId("schedule-encryption-enhanced").isChecked(), true);
  assert.match((await form.getByTestId("lock-reason").textContent()) ?? "", /End-to-end encryption is turned off: locked by your account admin/);
  await form.getByTestId("meeting-topic").fill("Vendor call");
  await form.getByTestId("schedule-submit").click();
  await bob.page.getByTestId("meeting-created").waitFor();
  assert.match((await bob.page.getByTestId("meeting-created").textContent()) ?? "", /enhanced encryption/);
  const list = await apiOk<{ meetings: { topic: string; encryption: string }[] }>(bob.page, "GET", "/api/meetings");
  assert.deepEqual(list.meetings.map((m) => [m.topic, m.encryption]), [["Vendor call", "enhanced"]]);
  await apiOk(olive.page, "PATCH", "/api/settings/account", { allowE2ee: { value: null, locked: false } });
});

test("admins see every meeting with its owner; users: change role, disable (the session ends), enable, delete", async () => {
  await olive.page.goto(`${server.origin}/#/admin/meetings`);
  const item = olive.page.locator('[data-testid="meeting-item"][data-topic="Vendor call"]');
  await item.waitFor();
  assert.match((await item.textContent()) ?? "", /Owner: Bob Member/);
  assert.deepEqual(await auditControls(olive.page), [], "admin meetings page");

  await olive.page.getByTestId("admin-tab-users").click();
  const bobItem = olive.page.locator(`[data-testid="user-item"][data-email="${BOB.email}"]`);
  await bobItem.waitFor();
  assert.deepEqual(await auditControls(olive.page), [], "users page");
  await bobItem.getByTestId("user-role").selectOption("admin");
  await eventually("Bob to be an admin", 10_000, async () => /Admin/.test((await olive.page.locator(`[data-testid="user-item"][data-email="${BOB.email}"] .tags`).textContent()) ?? ""));
  await bob.page.reload(); // the app learns its role when it loads
  await bob.page.getByTestId("nav-admin").waitFor();
  await olive.page.locator(`[data-testid="user-item"][data-email="${BOB.email}"]`).getByTestId("user-role").selectOption("member");
  await eventually("Bob a member again", 10_000, async () => (await apiOk<{ user: { role: string } }>(bob.page, "GET", "/api/me")).user.role === "member");

  // Disabling ends Bob's sessions: his next request sends him to sign-in, where he cannot get in.
  await olive.page.locator(`[data-testid="user-item"][data-email="${BOB.email}"]`).getByTestId("user-disable").click();
  await olive.page.locator(`[data-testid="user-item"][data-email="${BOB.email}"] .tag.warn`).waitFor();
  await bob.page.getByTestId("nav-settings").click();
  await bob.page.getByTestId("signin-notice").waitFor();
  await signInThroughForm(bob.page, BOB);
  const disabled = bob.page.getByTestId("signin-status").getByTestId("error");
  await disabled.waitFor();
  assert.equal(await disabled.getAttribute("data-error-code"), "ACCOUNT_DISABLED");
  await olive.page.locator(`[data-testid="user-item"][data-email="${BOB.email}"]`).getByTestId("user-disable").click();
  await eventually("Bob enabled", 10_000, async () => (await olive.page.locator(`[data-testid="user-item"][data-email="${BOB.email}"] .tag.warn`).count()) === 0);
  await signInThroughForm(bob.page, BOB);
  await bob.page.getByTestId("settings-list").waitFor();

  // The owner's own entry offers nothing to break; another user can be deleted, after a confirmation.
  const oliveItem = olive.page.locator(`[data-testid="user-item"][data-email="${OWNER.email}"]`);
  assert.equal(await oliveItem.getByTestId("user-delete").count(), 0);
  const cyPage = await openPage(browser, `${server.origin}/favicon.svg`);
  await invitedMember(olive.page, cyPage.page, { email: "cy@example.com", name: "Cy", password: "cy's long password" });
  await cyPage.context.close();
  await olive.page.reload();
  const cy = olive.page.locator('[data-testid="user-item"][data-email="cy@example.com"]');
  await cy.getByTestId("user-delete").click();
  await olive.page.getByTestId("confirm-delete-user").getByTestId("confirm-ok").click();
  await cy.waitFor({ state: "detached" });
  const users = await apiOk<{ users: { email: string }[] }>(olive.page, "GET", "/api/users");
  assert.deepEqual(users.users.map((u) => u.email).sort(), [BOB.email, OWNER.email]);
});

test("groups: rename, remove a member, delete", async () => {
  await olive.page.goto(`${server.origin}/#/admin/groups/${encodeURIComponent(salesId)}`);
  await olive.page.getByTestId("group-rename-input").fill("Sales EMEA");
  await olive.page.getByTestId("group-rename").click();
  await eventually("the new name", 10_000, async () => /Group: Sales EMEA/.test((await olive.page.getByTestId("group-detail").textContent()) ?? ""));
  await olive.page.locator(`[data-testid="group-member"][data-email="${BOB.email}"]`).getByTestId("group-member-remove").click();
  await olive.page.locator(`[data-testid="group-member"][data-email="${BOB.email}"]`).waitFor({ state: "detached" });
  await olive.page.getByTestId("group-delete").click();
  await olive.page.getByTestId("confirm-delete-group").getByTestId("confirm-ok").click();
  await olive.page.getByTestId("group-name").waitFor();
  assert.equal(await olive.page.locator('[data-testid="group-item"]').count(), 0);
  assert.deepEqual(await auditControls(olive.page), [], "groups page");
});

test("every state-changing request sent with a session carried the session's CSRF token in X-CSRF-Token", async () => {
  const seen = await Promise.all(stateChanging);
  const withSession = seen.filter((r) => r.session);
  assert.ok(withSession.length >= 20, `${withSession.length} requests`);
  for (const r of withSession) assert.ok(r.csrfHeader !== null && r.csrfHeader === r.csrfCookie, `${r.what} without the right X-CSRF-Token`);
  // The app's own requests, not only the test's: settings, scheduling, groups, users.
  const what = new Set(withSession.map((r) => r.what.replace(/\/[0-9a-f-]{36}|\/\d{11}/g, "/:id")));
  for (const w of ["PATCH /api/settings/account", "PATCH /api/settings/users/:id", "POST /api/meetings", "PATCH /api/meetings/:id", "DELETE /api/meetings/:id", "POST /api/groups", "PUT /api/groups/:id/members/:id", "POST /api/invitations", "PATCH /api/users/:id", "POST /api/auth/logout", "POST /api/auth/logout-all"]) {
    assert.ok(what.has(w), `${w} was sent (${[...what].join(", ")})`);
  }
});
