/**
 * Browser test harness: a real Conclave server (in-process, loopback, its self-signed TLS
 * certificate) serving the built web app, and Debian's Chromium driven by playwright-core.
 *
 * Chromium trusts exactly the server's certificate (--ignore-certificate-errors-spki-list with
 * the SHA-256 of its SubjectPublicKeyInfo), not every certificate. One browser process per test
 * file; participants are separate contexts (separate storage, separate fake devices).
 */
import { createHash, X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { requireSystemBinary } from "@conclave/test-support";
import { loadConfig, startConclave, type ConclaveOptions, type ConclaveServer, type ConfigFlags } from "@conclave/server";
import { NodeParticipant } from "@conclave/client/node";

const here = dirname(fileURLToPath(import.meta.url));
/** tests/browser/dist/support → repository root. */
export const REPO_ROOT = resolve(here, "../../../..");
export const WEB_ROOT = join(REPO_ROOT, "packages/web/dist");
/** Debian's chromium (or CONCLAVE_CHROMIUM); a missing browser fails the test naming its package. */
export function chromiumPath(): string {
  return requireSystemBinary("chromium", process.env.CONCLAVE_CHROMIUM);
}

/** Flags measured to work as root, headless, with fake devices (see the BRIEF's field notes). */
export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-ui-for-media-stream",
  // Three fake cameras; the fake microphones and speakers are three each already. Measured here:
  // fake_device_0 (I420) and fake_device_2 (MJPEG) encode; fake_device_1 is a Y16 depth camera
  // that WebRTC encodes no frame from, so tests switch between 0 and 2.
  "--use-fake-device-for-media-stream=device-count=3",
  "--allow-loopback-in-peer-connection",
  "--autoplay-policy=no-user-gesture-required",
];

export interface TestServer {
  server: ConclaveServer;
  origin: string;
  ca: string;
  spkiHash: string;
  createMeeting(encryption?: "e2ee" | "enhanced", passcode?: boolean): Promise<{ id: string; passcode: string | null }>;
  link(meeting: { id: string; passcode: string | null }): string;
  close(): Promise<void>;
}

export async function startTestServer(
  flags: ConfigFlags = {},
  env: Record<string, string> = {},
  options: Pick<ConclaveOptions, "signalingTap"> = {},
): Promise<TestServer> {
  if (!existsSync(join(WEB_ROOT, "index.html")) || !existsSync(join(WEB_ROOT, "app.js"))) {
    throw new Error(`the web app is not built (${WEB_ROOT}); run node packages/web/build.mjs`);
  }
  const dataDir = await mkdtemp(join(tmpdir(), "conclave-browser-"));
  const config = loadConfig({ flags: { port: 0, host: "127.0.0.1", data: dataDir, webRoot: WEB_ROOT, ...flags }, env });
  const server = await startConclave(config, {
    logger: { info() {}, warn() {}, error: (m, e) => console.error(m, e) },
    relay: { listenAddress: "127.0.0.1" },
    ...options,
  });
  const ca = await readFile(server.certFile, "utf8");
  const spki = new X509Certificate(ca).publicKey.export({ type: "spki", format: "der" });
  const origin = `https://127.0.0.1:${server.port}`;
  return {
    server,
    origin,
    ca,
    spkiHash: createHash("sha256").update(spki).digest("base64"),
    async createMeeting(encryption = "e2ee", passcode = true) {
      const created = await server.context.meetings.create({ encryption, passcode });
      return { id: created.meeting.id, passcode: created.passcode };
    },
    link(meeting) {
      return `${origin}/m/${meeting.id}${meeting.passcode ? `#pwd=${encodeURIComponent(meeting.passcode)}` : ""}`;
    },
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
      // After some reconnect sequences with Chromium peers the relay leaves a libdatachannel
      // object behind whose native callback keeps the process alive (a relay bug, reported to its
      // owners). Release libdatachannel's globals so the test file can exit.
      (await import("node-datachannel")).cleanup();
    },
  };
}

export async function launchBrowser(t: TestServer): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [...CHROMIUM_FLAGS, `--ignore-certificate-errors-spki-list=${t.spkiHash}`],
  });
}

export interface Participant {
  context: BrowserContext;
  page: Page;
  /** Messages the page printed to its console (errors only), for failure reports. */
  consoleErrors: string[];
}

export interface PageOptions {
  viewport?: { width: number; height: number };
  /** The system theme the page sees (prefers-color-scheme); default dark. */
  colorScheme?: "dark" | "light";
  /** The browser's language (navigator.languages); default en-US. */
  locale?: string;
}

export async function openPage(browser: Browser, url: string, init?: (context: BrowserContext) => Promise<void>, opts: PageOptions = {}): Promise<Participant> {
  const context = await browser.newContext({
    viewport: opts.viewport ?? { width: 1280, height: 800 },
    permissions: ["camera", "microphone"],
    colorScheme: opts.colorScheme ?? "dark",
    locale: opts.locale ?? "en-US",
  });
  if (init) await init(context);
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(url);
  return { context, page, consoleErrors };
}

/** Fills the join screen and joins; resolves once the page shows the meeting with its own keys. */
export async function joinFromPage(p: Participant, displayName: string, timeoutMs = 45_000): Promise<void> {
  await p.page.getByTestId("display-name").fill(displayName);
  await p.page.getByTestId("join-button").click();
  await p.page.waitForFunction(() => window.conclave?.phase() === "in-meeting", undefined, { timeout: timeoutMs });
}

export async function joinBot(t: TestServer, meeting: { id: string; passcode: string | null }, displayName: string, extra: { sendMedia?: boolean } = {}): Promise<NodeParticipant> {
  const bot = new NodeParticipant({ link: t.link(meeting), displayName, ca: t.ca, ...extra });
  await bot.join();
  return bot;
}

/** Polls `check` until it returns a truthy value; rejects with `what` after `ms`. */
export async function eventually<T>(what: string, ms: number, check: () => T | undefined | false | null | Promise<T | undefined | false | null>, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Names of the remote tiles a page shows. */
export function tileNames(page: Page): Promise<string[]> {
  return page.$$eval('[data-testid="video-tile"]', (els) => els.map((e) => e.getAttribute("data-participant-name") ?? "").sort());
}

export function securityCode(page: Page): Promise<string> {
  return page.getByTestId("security-code").evaluate((el) => el.textContent ?? "");
}

/**
 * Counts frames rendered by each remote tile's <video> (requestVideoFrameCallback) over
 * `windowMs`; resolves with {name: frames}.
 */
export function renderedFrames(page: Page, windowMs: number): Promise<Record<string, number>> {
  return page.evaluate(async (ms) => {
    const tiles = [...document.querySelectorAll<HTMLElement>('[data-testid="video-tile"]')];
    const counts: Record<string, number> = {};
    await Promise.all(
      tiles.map(
        (tile) =>
          new Promise<void>((resolve) => {
            const name = tile.getAttribute("data-participant-name") ?? "?";
            const video = tile.querySelector("video");
            counts[name] = 0;
            if (!video) return resolve();
            let stop = false;
            const onFrame = (): void => {
              if (stop) return;
              counts[name] = (counts[name] ?? 0) + 1;
              video.requestVideoFrameCallback(onFrame);
            };
            video.requestVideoFrameCallback(onFrame);
            setTimeout(() => {
              stop = true;
              resolve();
            }, ms);
          }),
      ),
    );
    return counts;
  }, windowMs);
}

/**
 * The loudest RMS (0..1) each remote tile's audio reaches over `windowMs`, measured with a
 * WebAudio AnalyserNode on the decrypted, decoded remote track.
 */
export function remoteAudioPeaks(page: Page, windowMs: number): Promise<Record<string, number>> {
  return page.evaluate(async (ms) => {
    const ctx = new AudioContext();
    await ctx.resume();
    const tiles = [...document.querySelectorAll<HTMLElement>('[data-testid="video-tile"]')];
    const peaks: Record<string, number> = {};
    const meters = tiles.map((tile) => {
      const name = tile.getAttribute("data-participant-name") ?? "?";
      peaks[name] = 0;
      const stream = tile.querySelector("audio")?.srcObject;
      if (!(stream instanceof MediaStream) || stream.getAudioTracks().length === 0) return null;
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 2048;
      ctx.createMediaStreamSource(stream).connect(analyser);
      return { name, analyser, buf: new Float32Array(analyser.fftSize) };
    });
    const deadline = performance.now() + ms;
    while (performance.now() < deadline) {
      for (const m of meters) {
        if (!m) continue;
        m.analyser.getFloatTimeDomainData(m.buf);
        let sum = 0;
        for (const v of m.buf) sum += v * v;
        const rms = Math.sqrt(sum / m.buf.length);
        if (rms > (peaks[m.name] ?? 0)) peaks[m.name] = rms;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await ctx.close();
    return peaks;
  }, windowMs);
}

/** The web app's diagnostics hook (packages/web/src/main.ts). */
declare global {
  interface Window {
    conclave: {
      stats(): { encrypted: number; decrypted: number; failed: number; droppedNoKey: number; skipped: number; held: number; perSender: Record<number, number>; epoch: string | null } | null;
      phase(): string | null;
      epoch(): string | null;
      memberId(): string | null;
      errors(): string[];
      simulateNetworkBlip(): void;
      devices(): { camera: string | null; microphone: string | null };
    };
  }
}
