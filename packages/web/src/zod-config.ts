/**
 * Runs before any other module of the app (main.ts imports it first). zod's JIT probes for
 * `eval` with `new Function`, which the server's Content-Security-Policy forbids: the probe fails
 * safely but the browser reports a CSP violation on every load. jitless mode skips the probe;
 * schemas still validate every message exactly as before. It must be set before the protocol's
 * schemas are built, hence its own module.
 */
import { config } from "zod";

config({ jitless: true });
