/**
 * The meeting screen holds up at every size: one Chromium page, resized, in meetings of 1, 2, 4,
 * 9 and 16 participants (the others are Node bots: two send video, the rest join without media to
 * spare the machine), at 1280×800, 1920×1080 and 390×844, with the People panel closed and open,
 * with and without a shared screen. For each it measures every visible tile's rectangle: no two
 * overlap, none reaches under the control bar or out of the window, and the document never
 * scrolls sideways. It also takes the README's screenshots of these layouts.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import type { NodeParticipant } from "@conclave/client/node";
import { eventually, joinBot, joinFromPage, launchBrowser, openPage, renderedFrames, startTestServer, tileNames, type Participant, type TestServer } from "./support/harness.js";
import { screenshotPath } from "./support/screenshots.js";

const SIZES = [
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
  { width: 390, height: 844 },
] as const;
/** Bots that send synthetic video (the rest join without media). */
const MEDIA_BOTS = 2;
const NAMES = [
  "Grace Hopper", "Alan Turing", "Katherine Johnson", "Claude Shannon", "Hedy Lamarr", "Donald Knuth", "Radia Perlman", "Whitfield Diffie",
  "Barbara Liskov", "Ralph Merkle", "Frances Allen", "Martin Hellman", "Shafi Goldwasser", "Ron Rivest", "Adi Shamir",
];

let server: TestServer;
let browser: Browser;
let meeting: { id: string; passcode: string | null };
let ada: Participant;
const bots: NodeParticipant[] = [];

interface Box {
  name: string;
  testid: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

interface Measure {
  tiles: Box[];
  hiddenTiles: number;
  control: { x: number; y: number; width: number; height: number };
  scrollWidth: number;
  clientWidth: number;
  innerWidth: number;
  innerHeight: number;
  pagerVisible: boolean;
}

function measure(page: Page): Promise<Measure> {
  return page.evaluate(async () => {
    // Until the layout is the one for the grid's current size (it follows a resize within a frame).
    const grid = document.querySelector<HTMLElement>(".grid")!;
    for (let i = 0; i < 60 && grid.getAttribute("data-area") !== `${grid.clientWidth}x${grid.clientHeight}`; i++) {
      await new Promise((r) => requestAnimationFrame(r));
    }
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const all = [...document.querySelectorAll<HTMLElement>('[data-testid="video-tile"], [data-testid="self-tile"], [data-testid="screen-tile"]')];
    const visible = all.filter((el) => el.getClientRects().length > 0);
    const box = (el: HTMLElement) => {
      const r = el.getBoundingClientRect();
      return { name: el.getAttribute("aria-label") ?? "?", testid: el.getAttribute("data-testid") ?? "?", x: r.x, y: r.y, width: r.width, height: r.height };
    };
    const c = document.querySelector<HTMLElement>('[data-testid="control-bar"]')!.getBoundingClientRect();
    const pager = document.querySelector<HTMLElement>('[data-testid="pager"]');
    return {
      tiles: visible.map(box),
      hiddenTiles: all.length - visible.length,
      control: { x: c.x, y: c.y, width: c.width, height: c.height },
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
      innerWidth: window.innerWidth,
      innerHeight: window.innerHeight,
      pagerVisible: pager !== null && pager.getClientRects().length > 0,
    };
  });
}

const intersects = (a: { x: number; y: number; width: number; height: number }, b: { x: number; y: number; width: number; height: number }): boolean =>
  a.x < b.x + b.width - 0.5 && b.x < a.x + a.width - 0.5 && a.y < b.y + b.height - 0.5 && b.y < a.y + a.height - 0.5;

function checkGeometry(m: Measure, participants: number, what: string): void {
  assert.ok(m.scrollWidth <= m.clientWidth, `${what}: the document scrolls sideways (${m.scrollWidth} > ${m.clientWidth})`);
  assert.ok(m.tiles.length >= 1, `${what}: no tile visible`);
  assert.equal(m.tiles.length + m.hiddenTiles >= participants, true, `${what}: ${m.tiles.length + m.hiddenTiles} tiles for ${participants} participants`);
  if (m.hiddenTiles > 0) assert.ok(m.pagerVisible, `${what}: ${m.hiddenTiles} tiles on other pages but no pager`);
  for (const t of m.tiles) {
    assert.ok(t.width >= 40 && t.height >= 30, `${what}: ${t.name} is ${t.width}×${t.height}`);
    assert.ok(t.x >= 0 && t.y >= 0 && t.x + t.width <= m.innerWidth + 0.5 && t.y + t.height <= m.innerHeight + 0.5, `${what}: ${t.name} leaves the window ${JSON.stringify(t)}`);
    assert.ok(!intersects(t, m.control), `${what}: ${t.name} ${JSON.stringify(t)} reaches under the control bar ${JSON.stringify(m.control)}`);
  }
  for (let i = 0; i < m.tiles.length; i++) {
    for (let j = i + 1; j < m.tiles.length; j++) {
      const a = m.tiles[i]!;
      const b = m.tiles[j]!;
      assert.ok(!intersects(a, b), `${what}: ${a.name} ${JSON.stringify(a)} overlaps ${b.name} ${JSON.stringify(b)}`);
    }
  }
  // The control bar itself is in the window, whole.
  assert.ok(m.control.y + m.control.height <= m.innerHeight + 0.5 && m.control.x >= 0 && m.control.x + m.control.width <= m.innerWidth + 0.5, `${what}: the control bar leaves the window`);
}

/** Screenshots without passing notices (they go after 6 s). */
async function screenshot(page: Page, name: Parameters<typeof screenshotPath>[0]): Promise<void> {
  await page.locator(".toast").first().waitFor({ state: "detached", timeout: 15_000 });
  await page.screenshot({ path: screenshotPath(name) });
}

async function setPanel(page: Page, open: boolean): Promise<void> {
  const button = page.getByTestId("participants-button");
  if ((await button.getAttribute("aria-expanded")) !== String(open)) await button.click();
  await page.getByTestId("side-panel").waitFor({ state: open ? "visible" : "hidden" });
}

/** Adds bots until the meeting has `participants` (the page included) and the page shows them. */
async function grow(participants: number): Promise<void> {
  while (bots.length < participants - 1) {
    const i = bots.length;
    bots.push(await joinBot(server, meeting, NAMES[i]!, { sendMedia: i < MEDIA_BOTS }));
  }
  await eventually(`${participants - 1} remote tiles`, 90_000, async () => (await tileNames(ada.page)).length === participants - 1);
}

async function sharing(on: boolean, participants: number): Promise<void> {
  const screen = ada.page.locator('[data-testid="screen-tile"]');
  if (participants === 1) {
    // Alone: this page shares its own screen (it is not shown back to the sharer).
    const button = ada.page.getByTestId("screen-button");
    if (((await button.textContent()) === "Stop sharing") !== on) await button.click();
    await eventually("the page's own share state", 20_000, async () => ((await button.textContent()) === "Stop sharing") === on);
    return;
  }
  await bots[0]!.setScreenShare(on);
  await screen.first().waitFor({ state: on ? "attached" : "detached", timeout: 30_000 });
}

before(async () => {
  server = await startTestServer();
  browser = await launchBrowser(server);
  meeting = await server.createMeeting("e2ee");
  ada = await openPage(browser, server.link(meeting));
  await joinFromPage(ada, "Ada Lovelace");
});

after(async () => {
  for (const b of bots) b.leave();
  await browser?.close();
  await server?.close();
});

for (const participants of [1, 2, 4, 9, 16]) {
  test(`${participants} participant${participants === 1 ? "" : "s"}: at 1280×800, 1920×1080 and 390×844, with and without the People panel and a shared screen, no tile overlaps another or the control bar and nothing scrolls sideways`, async () => {
    await grow(participants);
    for (const share of [false, true]) {
      await sharing(share, participants);
      for (const size of SIZES) {
        await ada.page.setViewportSize(size);
        for (const panel of [false, true]) {
          await setPanel(ada.page, panel);
          const what = `${participants} people, ${size.width}×${size.height}, panel ${panel ? "open" : "closed"}, ${share ? "sharing" : "no share"}`;
          const m = await measure(ada.page);
          checkGeometry(m, participants + (share && participants > 1 ? 1 : 0), what);
          if (share && participants > 1) {
            // The shared screen is the main tile: the largest one, whole and uncovered.
            const screen = m.tiles.find((t) => t.testid === "screen-tile");
            assert.ok(screen, `${what}: the shared screen is not visible`);
            for (const t of m.tiles) if (t !== screen) assert.ok(t.width * t.height < screen.width * screen.height, `${what}: ${t.name} is larger than the shared screen`);
          }
        }
      }
      await setPanel(ada.page, false);
      await ada.page.setViewportSize({ width: 1280, height: 800 });
      if (participants === 4 && share) {
        await eventually("the shared screen rendering", 30_000, async () => (await ada.page.locator('[data-testid="screen-tile"] video').evaluate((v: HTMLVideoElement) => v.videoWidth)) > 0);
        await screenshot(ada.page, "screen-share");
      }
    }
    await sharing(false, participants);
  });
}

test("video tiles show the bots' decrypted video, and a participant without video shows initials instead of a black tile", async () => {
  // 16 participants now: the two media bots render frames; a media-less bot shows initials.
  await ada.page.setViewportSize({ width: 1920, height: 1080 });
  const counts = await eventually("frames from both media bots", 40_000, async () => {
    const c = await renderedFrames(ada.page, 1000);
    return (c["Grace Hopper"] ?? 0) > 0 && (c["Alan Turing"] ?? 0) > 0 ? c : null;
  });
  assert.ok(counts);
  const quiet = ada.page.locator('[data-testid="video-tile"][data-participant-name="Hedy Lamarr"]');
  assert.equal(await quiet.evaluate((el) => el.classList.contains("no-video")), true);
  assert.equal((await quiet.locator(".avatar").textContent())?.trim(), "HL");
  assert.equal(await quiet.locator(".avatar").isVisible(), true);
});

test("pages: past what fits, the other participants are one click away, and every page keeps the rules", async () => {
  await ada.page.setViewportSize({ width: 390, height: 844 });
  const first = await measure(ada.page);
  assert.ok(first.hiddenTiles > 0 && first.pagerVisible, "16 people on a phone need more than one page");
  const seen = new Set(first.tiles.map((t) => t.name));
  for (let page = 0; page < 5 && !(await ada.page.getByTestId("page-next").isDisabled()); page++) {
    await ada.page.getByTestId("page-next").click();
    const m = await measure(ada.page);
    checkGeometry(m, 16, `phone, page ${page + 2}`);
    for (const t of m.tiles) seen.add(t.name);
  }
  assert.equal(seen.size, 16, `every participant appears on some page (${[...seen].join(", ")})`);
  await ada.page.setViewportSize({ width: 1280, height: 800 });
});

test("speaker view puts whoever speaks on the main tile (measured from decrypted audio), and a pin overrides it", async () => {
  await ada.page.setViewportSize({ width: 1280, height: 800 });
  await ada.page.getByTestId("layout-button").click();
  assert.equal(await ada.page.getByTestId("layout-button").getAttribute("data-layout"), "speaker");
  // The media bots send a tone; the others are silent: a media bot becomes the speaker.
  const speaker = await eventually("a main speaker tile", 30_000, async () => {
    const name = await ada.page.locator('[data-testid="video-tile"].main').getAttribute("data-participant-name").catch(() => null);
    return name === "Grace Hopper" || name === "Alan Turing" ? name : null;
  });
  const m = await measure(ada.page);
  checkGeometry(m, 16, "speaker view");
  const main = m.tiles.find((t) => t.name === speaker)!;
  for (const t of m.tiles) if (t !== main) assert.ok(t.width < main.width, `${t.name} is not smaller than the speaker`);
  await screenshot(ada.page, "speaker-view");

  // Pin someone silent (a bot without media, in the filmstrip): it takes the main tile, for this page only.
  const silent = m.tiles.find((t) => t.testid === "video-tile" && !["Grace Hopper", "Alan Turing"].includes(t.name));
  assert.ok(silent, "a silent bot in the filmstrip");
  const tile = ada.page.locator(`[data-testid="video-tile"][data-participant-name="${silent.name}"]`);
  await tile.getByTestId("tile-menu-button").click();
  await ada.page.getByTestId("tile-menu").getByTestId("pin-button").click();
  await eventually(`${silent.name} on the main tile`, 10_000, async () => (await ada.page.locator('[data-testid="video-tile"].main').getAttribute("data-participant-name")) === silent.name);
  checkGeometry(await measure(ada.page), 16, "pinned");
  await tile.getByTestId("tile-menu-button").click();
  await ada.page.getByTestId("tile-menu").getByTestId("pin-button").click();
  await ada.page.getByTestId("layout-button").click();
  assert.equal(await ada.page.getByTestId("layout-button").getAttribute("data-layout"), "gallery");
});

test("screenshots: gallery, phone size and the light theme", async () => {
  // Nine people look best in the README's gallery: the rest leave.
  for (const b of bots.splice(8)) b.leave();
  await eventually("8 remote tiles", 30_000, async () => (await tileNames(ada.page)).length === 8);
  await ada.page.setViewportSize({ width: 1280, height: 800 });
  await setPanel(ada.page, true);
  await eventually("both media bots rendering", 30_000, async () => {
    const c = await renderedFrames(ada.page, 500);
    return (c["Grace Hopper"] ?? 0) > 0 && (c["Alan Turing"] ?? 0) > 0;
  });
  await screenshot(ada.page, "gallery");
  await setPanel(ada.page, false);
  await ada.page.setViewportSize({ width: 390, height: 844 });
  checkGeometry(await measure(ada.page), 9, "phone, 9 people");
  await screenshot(ada.page, "phone");
  await ada.page.setViewportSize({ width: 1280, height: 800 });
  await ada.page.emulateMedia({ colorScheme: "light" });
  const bg = await ada.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, "rgb(246, 248, 250)", "the light theme follows the system setting");
  await screenshot(ada.page, "light-theme");
  await ada.page.emulateMedia({ colorScheme: "dark" });
  assert.equal(await ada.page.evaluate(() => getComputedStyle(document.body).backgroundColor), "rgb(14, 17, 22)");
});

test("phones 360 to 414 px wide: nothing scrolls sideways, every control is a thumb-sized target at the bottom, and the security code opens as a sheet where it is whole and readable", async () => {
  const page = ada.page;
  for (const size of [{ width: 360, height: 740 }, { width: 390, height: 844 }, { width: 414, height: 896 }]) {
    await page.setViewportSize(size);
    const what = `phone ${size.width}×${size.height}`;
    checkGeometry(await measure(page), 9, what);
    // Every button of the control bar: at least 44×44 px (the usual touch-target minimum), in the
    // bottom tenth of the screen, inside the window.
    const controls = await page.locator('[data-testid="control-bar"] button').evaluateAll((els) =>
      els.filter((el) => el.getClientRects().length > 0).map((el) => {
        const r = el.getBoundingClientRect();
        return { id: el.getAttribute("data-testid") ?? "?", x: r.x, y: r.y, width: r.width, height: r.height };
      }),
    );
    assert.ok(controls.length >= 6, `${what}: ${controls.length} controls`);
    for (const id of ["mic-button", "camera-button", "leave-button"]) assert.ok(controls.some((c) => c.id === id), `${what}: ${id} visible`);
    for (const c of controls) {
      assert.ok(c.width >= 44 && c.height >= 44, `${what}: ${c.id} is ${c.width}×${c.height}`);
      assert.ok(c.x >= 0 && c.x + c.width <= size.width + 0.5, `${what}: ${c.id} leaves the window`);
      assert.ok(c.y >= size.height * 0.9 - 1, `${what}: ${c.id} at y=${c.y} is out of a thumb's reach`);
    }
    // The security code: its button is reachable in the header; the sheet shows every digit group.
    const header = await page.getByTestId("security-code-button").boundingBox();
    assert.ok(header && header.width >= 44 && header.height >= 44 && header.x + header.width <= size.width + 0.5, `${what}: security-code button ${JSON.stringify(header)}`);
    await page.getByTestId("security-code-button").click();
    const sheet = page.getByTestId("security-code-panel");
    await sheet.waitFor();
    const code = await page.getByTestId("security-code").evaluate((el) => {
      const r = el.getBoundingClientRect();
      // Where each digit group is drawn: wrapped lines are fine, a group cut in two or off-screen is not.
      const groups: { text: string; rects: number; left: number; right: number }[] = [];
      const text = el.textContent ?? "";
      const node = el.firstChild;
      let at = 0;
      for (const g of text.split(" ")) {
        const start = text.indexOf(g, at);
        at = start + g.length;
        if (!node || g === "") continue;
        const range = document.createRange();
        range.setStart(node, start);
        range.setEnd(node, at);
        const rects = [...range.getClientRects()].filter((q) => q.width > 0);
        groups.push({ text: g, rects: rects.length, left: Math.min(...rects.map((q) => q.left)), right: Math.max(...rects.map((q) => q.right)) });
      }
      return {
        text,
        left: r.left,
        right: r.right,
        fontPx: parseFloat(getComputedStyle(el).fontSize),
        overflow: el.scrollWidth > el.clientWidth,
        groups,
        scrollWidth: document.documentElement.scrollWidth,
      };
    });
    assert.match(code.text, /^\d{5}( \d{5}){6}$/, `${what}: the code is there (35 digits in 7 groups)`);
    assert.ok(code.fontPx >= 18, `${what}: the code is ${code.fontPx} px`);
    assert.equal(code.overflow, false, `${what}: the code overflows its box`);
    assert.ok(code.left >= 0 && code.right <= size.width + 0.5, `${what}: the code's box ${code.left}..${code.right} leaves the window`);
    assert.equal(code.groups.length, 7);
    for (const g of code.groups) {
      assert.equal(g.rects, 1, `${what}: group ${g.text} is split across lines`);
      assert.ok(g.left >= 0 && g.right <= size.width + 0.5, `${what}: group ${g.text} is drawn at ${g.left}..${g.right}`);
    }
    assert.ok(code.scrollWidth <= size.width, `${what}: the open sheet makes the page scroll sideways`);
    await page.keyboard.press("Escape");
    await sheet.waitFor({ state: "hidden" });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
});

test("the page printed no errors to the console", () => {
  assert.deepEqual(ada.consoleErrors, []);
});
