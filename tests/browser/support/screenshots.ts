/**
 * Where the product screenshots go: docs/screenshots/<name>.png, linked from the README.
 * Tests take them on every run, so they always show the current app.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./harness.js";

export const SCREENSHOT_DIR = join(REPO_ROOT, "docs/screenshots");

export function screenshotPath(name: "join" | "meeting" | "shield" | "security-code"): string {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return join(SCREENSHOT_DIR, `${name}.png`);
}
