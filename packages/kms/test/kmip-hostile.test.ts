// A hostile (or broken) KMIP server: the client must refuse whatever it sends with a clear
// error, keep no half-read state, and work again with the next, well-behaved answer.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type TLSSocket } from "node:tls";
import { KmipClient, encodeTtlv, isKmsError } from "../src/index.js";
import { seeds } from "./ttlv-fuzz-core.js";
import { makePki, requirePyKmip } from "./pykmip.js";

requirePyKmip(); // openssl makes the certificates
const dir = mkdtempSync(join(tmpdir(), "conclave-kmip-hostile-"));
const pki = makePki(dir);
let answer: (socket: TLSSocket, request: Buffer) => void = () => {};
let connections = 0;
const server = createServer(
  { cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey), ca: readFileSync(pki.ca), requestCert: true, rejectUnauthorized: true },
  (socket) => {
    connections++;
    socket.on("error", () => {});
    socket.on("data", (d) => answer(socket, d));
  },
);
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const port = (server.address() as { port: number }).port;
const client = new KmipClient({ host: "127.0.0.1", port, ca: readFileSync(pki.ca), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey), requestTimeoutMs: 2000 });
after(async () => {
  client.close();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const [createOk, activateOk] = seeds();
const cases: [string, (s: TLSSocket) => void, string][] = [
  ["random bytes", (s) => s.write(Buffer.from("ffeeddccbbaa99887766554433221100", "hex")), "KMS_KMIP_MALFORMED"],
  ["a header announcing 4 GiB", (s) => s.write(Buffer.from("42007b01fffffff8", "hex")), "KMS_KMIP_MALFORMED"],
  ["a response for another operation", (s) => s.write(activateOk!), "KMS_KMIP_MALFORMED"],
  ["two responses at once", (s) => s.write(Buffer.concat([createOk!, createOk!])), "KMS_KMIP_MALFORMED"],
  ["half a response, then hanging up", (s) => s.end(createOk!.subarray(0, 20)), "KMS_UNAVAILABLE"],
  ["nothing at all (timeout)", () => {}, "KMS_UNAVAILABLE"],
  ["a structure that is not a response", (s) => s.write(encodeTtlv({ tag: 0x420078, type: "structure", value: [] })), "KMS_KMIP_MALFORMED"],
];
for (const [what, misbehave, code] of cases) {
  test(`a KMIP server that sends ${what} gets ${code}, and the next request works`, async () => {
    answer = (s) => misbehave(s);
    await assert.rejects(client.request("Create", []), (e) => isKmsError(e, code as "KMS_KMIP_MALFORMED"));
    answer = (s) => s.write(createOk!);
    const payload = await client.request("Create", []);
    assert.ok(payload.length > 0);
  });
}

test("a request on a kept-alive connection that the server drops unanswered is sent once more on a new connection", async () => {
  answer = (s) => s.write(createOk!);
  await client.request("Create", []);
  const before = connections;
  let dropped = false;
  answer = (s) => {
    if (!dropped) {
      dropped = true;
      s.destroy(); // as a server closing an idle connection just as the request arrives
      return;
    }
    s.write(createOk!);
  };
  assert.ok((await client.request("Create", [])).length > 0);
  assert.equal(connections, before + 1);
});
