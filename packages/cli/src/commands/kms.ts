/**
 * `conclave kms status | rotate | verify`: the key management of a data directory, on this
 * machine (next to a running server or while it is stopped).
 *
 * - status: the back end, its master keys, how many data keys each wraps, the cache lifetime,
 *   and whether clear text from an older version still waits to be sealed.
 * - rotate: a new master key becomes current and every data key is rewrapped under it (content
 *   is not re-encrypted). Resumable: run it again after a failure.
 * - verify: unwraps a random sample of data keys and decrypts a sample of sealed records.
 *
 * Every unwrap is recorded in <data>/audit/kms-audit.log with the principal "cli".
 */
import { parseArgs } from "node:util";
import { silentLogger, loadConfig, Metrics, openStoredData, sealMigrationDone, kmsServerError, type Database } from "@conclave/server";
import { KMS_OPTIONS, kmsFlags } from "../kms-options.js";
import { CliError } from "../errors.js";
import type { CliIo, Command } from "../io.js";

export const KMS_HELP = `Usage: conclave kms <status|rotate|verify> [options]

The key management of data at rest, for the data directory on this machine.

  status   the back end, its master keys, data keys per master key, clear text left to seal
  rotate   make a new master key current and rewrap every data key under it
  verify   unwrap a sample of data keys and decrypt a sample of sealed records

Options:
  --data DIR                 data directory (CONCLAVE_DATA, default ./conclave-data)
  --config FILE              JSON config file (CONCLAVE_CONFIG, default <data>/conclave.json)
  --kms local|pkcs11|kmip    the back end (CONCLAVE_KMS, default local)
  --kms-key-file FILE        local master key file (default <data>/kms/master-keys.json)
  --kms-pkcs11-module FILE   PKCS#11 library (default /usr/lib/softhsm/libsofthsm2.so)
  --kms-pkcs11-token LABEL   token label; the PIN comes from CONCLAVE_KMS_PKCS11_PIN or the config file
  --kms-pkcs11-slot ID       slot id (optional)
  --kms-kmip-host HOST       KMIP server; also --kms-kmip-port, --kms-kmip-ca, --kms-kmip-cert,
                             --kms-kmip-key, --kms-kmip-key-id
  --sample N                 verify: how many keys and records to check (default 100)
  --json                     print one JSON object instead of text
  -h, --help                 show this help

Use the same settings as \`conclave serve\` (the config file in the data directory is read).`;

const ACTIONS = ["status", "rotate", "verify"] as const;
type Action = (typeof ACTIONS)[number];

export const kmsCommand: Command = {
  summary: "key management of data at rest: status, rotate, verify",
  async run(args: string[], io: CliIo): Promise<number> {
    const [action, ...rest] = args;
    if (action === undefined || action === "-h" || action === "--help" || action === "help") {
      io.out(KMS_HELP);
      return action === undefined ? 2 : 0;
    }
    if (!(ACTIONS as readonly string[]).includes(action)) throw new CliError("USAGE", `unknown action "kms ${action}"; use status, rotate or verify`);
    const { values } = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: false,
      options: {
        data: { type: "string" },
        config: { type: "string" },
        ...KMS_OPTIONS,
        sample: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      io.out(KMS_HELP);
      return 0;
    }
    const sample = values.sample === undefined ? 100 : Number(values.sample);
    if (!Number.isInteger(sample) || sample < 1 || sample > 100_000) throw new CliError("USAGE", "--sample must be a whole number from 1 to 100000");
    const config = loadConfig({
      flags: {
        data: values.data,
        config: values.config,
        ...kmsFlags(values),
      },
      env: io.env,
      cwd: io.cwd,
    });
    const stored = await openStoredData(config, { logger: silentLogger, metrics: new Metrics({ defaultMetrics: false }) });
    try {
      const report = await run(action as Action, stored.database, sample);
      io.out(values.json ? JSON.stringify(report.json) : report.text.join("\n"));
      return report.ok ? 0 : 1;
    } catch (e) {
      throw kmsServerError(e);
    } finally {
      stored.close();
    }
  },
};

interface Report {
  ok: boolean;
  json: Record<string, unknown>;
  text: string[];
}

async function run(action: Action, db: Database, sample: number): Promise<Report> {
  const keys = db.keys;
  switch (action) {
    case "status": {
      const s = await keys.status();
      const clear = clearTextLeft(db);
      const json = {
        backend: s.backend.kind,
        location: s.backend.location,
        currentMasterKeyId: s.backend.currentMasterKeyId,
        masterKeyIds: s.backend.masterKeyIds,
        dataKeys: s.dataKeys,
        cacheTtlSeconds: s.cacheTtlMs / 1000,
        clearTextMigration: sealMigrationDone(db) ? "done" : "pending",
        clearTextRows: clear,
      };
      const total = Object.values(s.dataKeys).reduce((a, b) => a + b, 0);
      const text = [
        `back end: ${s.backend.kind} (${s.backend.location})`,
        `current master key: ${s.backend.currentMasterKeyId}`,
        `master keys: ${s.backend.masterKeyIds.join(", ")}`,
        `data keys: ${total}${total > 0 ? ` (${Object.entries(s.dataKeys).map(([m, n]) => `${n} under ${m}`).join(", ")})` : ""}`,
        `unwrapped data keys stay in the server's memory for at most ${s.cacheTtlMs / 1000} s after last use`,
        `clear text waiting to be sealed: ${clear} rows (migration ${json.clearTextMigration})`,
      ];
      return { ok: true, json, text };
    }
    case "rotate": {
      const r = await keys.rotate("cli");
      const json = { ...r };
      const text = [
        `master key rotated: ${r.previousMasterKeyId} -> ${r.currentMasterKeyId}`,
        `data keys rewrapped: ${r.rewrapped}`,
        ...r.failed.map((f) => `FAILED ${f.object}: ${f.code}`),
        ...(r.failed.length > 0 ? ["Some data keys could not be rewrapped; run `conclave kms rotate` again after fixing the cause."] : []),
      ];
      return { ok: r.failed.length === 0, json, text };
    }
    case "verify": {
      const k = await keys.verify("cli", sample);
      const records = await verifyRecords(db, sample);
      const json = { dataKeys: k, records };
      const text = [
        `data keys: ${k.ok} of ${k.checked} unwrap`,
        ...k.failed.map((f) => `FAILED key of ${f.object}: ${f.code}`),
        `sealed records: ${records.ok} of ${records.checked} decrypt`,
        ...records.failed.map((f) => `FAILED ${f.object}: ${f.code}`),
      ];
      return { ok: k.failed.length === 0 && records.failed.length === 0, json, text };
    }
  }
}

function clearTextLeft(db: Database): number {
  const c = db.connection;
  const n = (sql: string) => c.prepare<{ n: number }>(sql).get()?.n ?? 0;
  return n("SELECT count(*) AS n FROM meetings WHERE topic IS NOT NULL") + n("SELECT count(*) AS n FROM invitations WHERE email <> ''");
}

/** Decrypt a random sample of sealed meeting details, invitations and participant-log entries. */
async function verifyRecords(db: Database, sample: number): Promise<{ checked: number; ok: number; failed: { object: string; code: string }[] }> {
  const c = db.connection;
  const meetings = c.prepare<{ id: string }>("SELECT id FROM meetings WHERE sealed IS NOT NULL ORDER BY random() LIMIT ?").all(sample);
  const logs = c.prepare<{ id: string }>("SELECT DISTINCT meeting_id AS id FROM participant_log ORDER BY random() LIMIT ?").all(sample);
  let ok = 0;
  const failed: { object: string; code: string }[] = [];
  const check = async (object: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
      ok++;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === "KMS_UNAVAILABLE") throw e;
      failed.push({ object, code: typeof code === "string" ? code : "ERROR" });
    }
  };
  for (const m of meetings) await check(`meeting/${m.id}`, () => db.meetings.details(m.id, "cli"));
  for (const m of logs) await check(`meeting/${m.id} participant log`, () => db.participants.list(m.id, "cli"));
  const invitations = c.prepare<{ n: number }>("SELECT count(*) AS n FROM invitations WHERE sealed IS NOT NULL").get()?.n ?? 0;
  if (invitations > 0) await check("invitations", () => db.invitations.listPending("cli"));
  return { checked: meetings.length + logs.length + (invitations > 0 ? 1 : 0), ok, failed };
}
