// Child process of the migration kill test: opens the data directory's database with its local
// master key and seals clear text, printing one line per sealed row. With SLOW_WRAP set, every
// wrap waits a little (so the parent can kill it half way).
import { LocalKeyFileBackend, type MasterKeyBackend } from "@conclave/kms";
import { join } from "node:path";
import { Database } from "../src/storage/database.js";
import { sealClearText } from "../src/storage/seal-migration.js";

const dataDir = process.argv[2]!;
const local = LocalKeyFileBackend.openSync({ file: join(dataDir, "kms", "master-keys.json") });
const backend: MasterKeyBackend = process.env.SLOW_WRAP
  ? {
      kind: local.kind,
      wrap: async (key, aad) => {
        await new Promise((r) => setTimeout(r, 3));
        return local.wrap(key, aad);
      },
      unwrap: (w, aad) => local.unwrap(w, aad),
      rotate: () => local.rotate(),
      status: () => local.status(),
      close: () => local.close(),
    }
  : local;
const db = Database.open(join(dataDir, "conclave.db"), { kms: { backend } });
const report = await sealClearText(db, { onRow: (kind, id) => process.stdout.write(`${kind} ${id}\n`) });
process.stdout.write(`done ${JSON.stringify(report)}\n`);
db.close();
