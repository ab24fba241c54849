// kill -9 during a chunked write: the half-written object is detected as such, every complete
// chunk stays readable, and the writer resumes and finishes it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataKey, EncryptedFileReader, EncryptedFileWriter, isKmsError } from "../src/index.js";
import { streamBytes } from "./stream-bytes.js";

test("a writer killed with SIGKILL mid-stream leaves a file reported as KMS_STREAM_TRUNCATED whose complete chunks read back and which resumes to a complete stream", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-kill-write-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "recording.clvc");
  const keyBytes = randomBytes(32);
  const keyId = randomBytes(16).toString("hex");
  const child = spawn(process.execPath, [new URL("./chunked-writer-fixture.js", import.meta.url).pathname, path], {
    env: { ...process.env, TEST_DATA_KEY: keyBytes.toString("hex"), TEST_DATA_KEY_ID: keyId },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let accepted = 0;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve) => {
    let buffered = "";
    child.stdout!.on("data", (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const l of lines) accepted = Number(l);
      // Somewhere past a few chunks, and usually in the middle of one.
      if (accepted > 5 * 4096 + 1500) {
        child.kill("SIGKILL");
        resolve();
      }
    });
  });
  assert.equal(await exited, "SIGKILL");
  const key = DataKey.fromBytes(keyId, { kind: "recording", id: "kill-test" }, keyBytes);

  await assert.rejects(EncryptedFileReader.open(path, key, "media"), (e) => isKmsError(e, "KMS_STREAM_TRUNCATED"));
  const partial = await EncryptedFileReader.open(path, key, "media", { allowIncomplete: true });
  assert.equal(partial.complete, false);
  // Every chunk that was complete when the process died is there (synced after each write).
  assert.ok(partial.size >= Math.floor(accepted / 4096) * 4096 - 4096, `readable ${partial.size}, accepted ${accepted}`);
  assert.deepEqual(await partial.read(0), streamBytes(0, partial.size));
  await partial.close();

  const resumed = await EncryptedFileWriter.resume(path, key, "media");
  const kept = resumed.bytesWritten;
  await resumed.write(streamBytes(kept, 10_000));
  await resumed.finish();
  const whole = await EncryptedFileReader.open(path, key, "media");
  assert.equal(whole.complete, true);
  assert.deepEqual(await whole.read(0), streamBytes(0, kept + 10_000));
  await whole.close();
});
