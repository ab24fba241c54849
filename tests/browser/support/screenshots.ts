/**
 * Where the product screenshots go. Tests take them on every run (so taking them is tested), but
 * write into docs/screenshots/ — the committed images linked from the README — only when
 * CONCLAVE_UPDATE_SCREENSHOTS=1; otherwise into a scratch folder, so a test run leaves the
 * working tree clean.
 *
 *   CONCLAVE_UPDATE_SCREENSHOTS=1 node --test tests/browser/dist/*.test.js
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./harness.js";

export const SCREENSHOT_DIR =
  process.env.CONCLAVE_UPDATE_SCREENSHOTS === "1" ? join(REPO_ROOT, "docs/screenshots") : join(tmpdir(), "conclave-screenshots");

export type ScreenshotName =
  | "join"
  | "meeting"
  | "shield"
  | "security-code"
  | "waiting-room"
  | "admin-settings"
  | "schedule"
  | "gallery"
  | "speaker-view"
  | "screen-share"
  | "phone"
  | "light-theme"
  | "not-found"
  | "chat"
  | "polls"
  | "breakout-rooms";

export function screenshotPath(name: ScreenshotName): string {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return join(SCREENSHOT_DIR, `${name}.png`);
}
