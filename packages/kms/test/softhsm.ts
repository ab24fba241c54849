/**
 * A SoftHSM 2 token directory made by the test: its own softhsm2.conf (SOFTHSM2_CONF, set
 * before the library is initialised), tokens created with softhsm2-util. Fails with a clear
 * message when softhsm2 is not installed (scripts/install-system-deps.sh installs it).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireSystemBinary } from "@conclave/test-support";
import { DEFAULT_PKCS11_MODULE } from "../src/index.js";

export interface SoftHsm {
  readonly dir: string;
  readonly module: string;
  /** Create a token; returns its label. */
  initToken(label: string, pin: string): string;
  cleanup(): void;
}

export function requireSoftHsm(): void {
  requireSystemBinary("softhsm2-util");
  if (!existsSync(DEFAULT_PKCS11_MODULE)) {
    throw new Error(`SoftHSM is not installed (${DEFAULT_PKCS11_MODULE} missing): run scripts/install-system-deps.sh (Debian package softhsm2)`);
  }
}

export function createSoftHsm(): SoftHsm {
  requireSoftHsm();
  const dir = mkdtempSync(join(tmpdir(), "conclave-softhsm-"));
  const tokens = join(dir, "tokens");
  mkdirSync(tokens);
  const conf = join(dir, "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  return {
    dir,
    module: DEFAULT_PKCS11_MODULE,
    initToken(label, pin) {
      // Test tokens only: softhsm2-util takes PINs as arguments. Conclave itself never does.
      execFileSync("softhsm2-util", ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", `so-${pin}`], {
        env: { ...process.env, SOFTHSM2_CONF: conf },
        stdio: ["ignore", "ignore", "pipe"],
      });
      return label;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
