// Child process of the kill -9 test: appends a deterministic stream in uneven pieces, syncing
// after each and printing how many plaintext bytes were accepted, until it is killed. The test
// passes the data key in the environment (test only: the server never does this).
import { DataKey, EncryptedFileWriter } from "../src/index.js";
import { streamBytes } from "./stream-bytes.js";

const path = process.argv[2]!;
const key = DataKey.fromBytes(process.env.TEST_DATA_KEY_ID!, { kind: "recording", id: "kill-test" }, Buffer.from(process.env.TEST_DATA_KEY!, "hex"));
const w = await EncryptedFileWriter.create(path, key, "media", { chunkSize: 4096 });
for (let offset = 0; ; ) {
  const n = 1000 + (offset % 777);
  await w.write(streamBytes(offset, n));
  offset += n;
  await w.sync();
  process.stdout.write(`${w.bytesWritten}\n`);
}
