// Hosts rename phones and room systems through presence; people keep their credentials' names.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { MemberIdentity, MemberInfo } from "@conclave/protocol";
import { renamable, withHostNames } from "../src/meeting/host-names.js";

const phone: MemberIdentity = { kind: "connector", connector: "pstn", memberId: "c-phone", displayName: "Phone \u2022\u2022\u2022 1234" };
const room: MemberIdentity = { kind: "connector", connector: "sip", memberId: "c-room", displayName: "Room 4" };
const recorder: MemberIdentity = { kind: "connector", connector: "recording", memberId: "c-rec", displayName: "Cloud recording" };
const ada: MemberIdentity = { kind: "person", memberId: "m-ada", displayName: "Ada" };
const info = (m: MemberIdentity, displayName: string): MemberInfo => ({
  memberId: m.memberId,
  displayName,
  kind: m.kind === "connector" ? { kind: "connector", connector: m.connector } : { kind: "person" },
  inGroup: true,
  role: "participant",
});

test("a phone and a room system take the name a host gave them; a person and other connectors keep their credentials' names", () => {
  const out = withHostNames([phone, room, recorder, ada], [info(phone, "Front desk"), info(room, "Boardroom"), info(recorder, "Not a recorder"), info(ada, "Mallory")]);
  assert.deepEqual(out.map((m) => m.displayName), ["Front desk", "Boardroom", "Cloud recording", "Ada"]);
  assert.deepEqual(out.map((m) => m.memberId), [phone.memberId, room.memberId, recorder.memberId, ada.memberId]);
  assert.equal(phone.displayName, "Phone \u2022\u2022\u2022 1234", "the input is not changed");
});

test("without presence a member keeps its credential's name", () => {
  assert.deepEqual(withHostNames([phone, ada], []), [phone, ada]);
  assert.deepEqual([phone, room, recorder, ada].map(renamable), [true, true, false, false]);
});
