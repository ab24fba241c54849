// Connectors the server starts join with single-use tickets; the registry checks a device's way
// in (meeting, passcode, encryption) before a ticket is issued.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectorTickets, TICKET_LIFETIME_MS } from "../src/connectors/tickets.js";
import { MeetingRegistry } from "../src/meetings/meeting-registry.js";
import { tempDb } from "./support/temp-db.js";

test("a ticket works once, for its own meeting, within its lifetime", () => {
  const tickets = new ConnectorTickets();
  const t1 = tickets.issue({ meetingId: "11111111111", connector: "sip", invitedByHost: true }, 1000);
  assert.match(t1, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(tickets.redeem(t1, "22222222222", 1000), null, "another meeting");
  const t2 = tickets.issue({ meetingId: "11111111111", connector: "sip", invitedByHost: false }, 1000);
  assert.deepEqual(tickets.redeem(t2, "11111111111", 2000), { meetingId: "11111111111", connector: "sip", invitedByHost: false });
  assert.equal(tickets.redeem(t2, "11111111111", 2000), null, "single use");
  const t3 = tickets.issue({ meetingId: "11111111111", connector: "sip", invitedByHost: false }, 1000);
  assert.equal(tickets.redeem(t3, "11111111111", 1000 + TICKET_LIFETIME_MS + 1), null, "expired");
  assert.equal(tickets.redeem("x".repeat(43), "11111111111"), null, "unknown");
});

test("a device is let towards a meeting only with the right passcode, never into an e2ee meeting, and guessing is rate limited", async (t) => {
  const db = tempDb(t).open();
  const registry = new MeetingRegistry({ store: db.meetings, tickets: new ConnectorTickets(), limits: { failuresPerAddress: 3 } });
  t.after(() => registry.close());
  const enhanced = await db.meetings.create({ encryption: "enhanced", passcode: true });
  const e2ee = await db.meetings.create({ encryption: "e2ee", passcode: true });
  const ok = await registry.authorizeConnector({ meetingId: enhanced.meeting.id, passcode: enhanced.passcode!, address: "sip:192.0.2.1", connector: "sip" });
  assert.ok(ok.ok && ok.ticket.length === 43);
  const refused = await registry.authorizeConnector({ meetingId: e2ee.meeting.id, passcode: e2ee.passcode!, address: "sip:192.0.2.1", connector: "sip" });
  assert.deepEqual(refused.ok ? null : refused.code, "CONNECTOR_NOT_ALLOWED");
  for (let i = 0; i < 3; i++) {
    const wrong = await registry.authorizeConnector({ meetingId: enhanced.meeting.id, passcode: `wrong${i}`, address: "sip:192.0.2.9", connector: "sip" });
    assert.deepEqual(wrong.ok ? null : wrong.code, "WRONG_PASSCODE");
  }
  const limited = await registry.authorizeConnector({ meetingId: enhanced.meeting.id, passcode: enhanced.passcode!, address: "sip:192.0.2.9", connector: "sip" });
  assert.deepEqual(limited.ok ? null : limited.code, "RATE_LIMITED");
  const missing = await registry.authorizeConnector({ meetingId: "99999999999", address: "sip:192.0.2.1", connector: "sip" });
  assert.deepEqual(missing.ok ? null : missing.code, "MEETING_NOT_FOUND");
});
