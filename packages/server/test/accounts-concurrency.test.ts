import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, OWNER, setupOwner, start } from "./support/api-client.js";

test("of three concurrent set-ups exactly one creates the owner", async (t) => {
  const server = await start(t);
  const replies = await Promise.all(
    ["a@example.org", "b@example.org", "c@example.org"].map((email) => new Client(server).call("POST", "/api/setup", { body: { ...OWNER, email } })),
  );
  assert.deepEqual(replies.map((r) => r.status).sort(), [201, 409, 409]);
  assert.equal(server.context.database.users.count(), 1);
});

test("an invitation accepted twice at once creates one account", async (t) => {
  const server = await start(t);
  const owner = await setupOwner(server);
  const token = (await owner.call("POST", "/api/invitations", { body: { email: "new@example.org" } })).json.token as string;
  const replies = await Promise.all(
    ["First", "Second"].map((name) => new Client(server).call("POST", "/api/invitations/accept", { body: { token, name, password: "a good password" } })),
  );
  assert.deepEqual(replies.map((r) => r.status).sort(), [201, 400]);
  assert.equal(replies.find((r) => r.status === 400)?.json.error.code, "INVITATION_INVALID");
  assert.equal((await owner.call("GET", "/api/users")).json.users.length, 2);
});
