import { test } from "node:test";
import assert from "node:assert/strict";
import { isServerError } from "../src/errors.js";
import { SETTINGS, SETTING_KEYS, defaultSettings, settingsCatalog } from "../src/settings/catalog.js";
import { checkWritable, levelView } from "../src/settings/levels.js";
import { decideMeetingOptions, meetingSettingsSnapshot } from "../src/settings/meeting-options.js";
import { resolveAll, resolveSetting, type ResolvedSetting, type SettingLevels } from "../src/settings/resolve.js";

type Case = [name: string, levels: SettingLevels<boolean>, expected: ResolvedSetting<boolean>];

// waitingRoom: built-in default true.
const cases: Case[] = [
  ["nothing set: the built-in default", { account: {}, user: {} }, { value: true, source: "default", locked: false }],
  ["no group level: the built-in default", { account: {}, group: undefined, user: {} }, { value: true, source: "default", locked: false }],
  ["account value beats the default", { account: { value: false }, user: {} }, { value: false, source: "account", locked: false }],
  ["group value beats the account value", { account: { value: false }, group: { value: true }, user: {} }, { value: true, source: "group", locked: false }],
  [
    "unlocked user value beats group and account values",
    { account: { value: true }, group: { value: true }, user: { value: false } },
    { value: false, source: "user", locked: false },
  ],
  ["user value without a group beats the account value", { account: { value: true }, user: { value: false } }, { value: false, source: "user", locked: false }],
  [
    "account lock beats group and user values",
    { account: { value: false, locked: true }, group: { value: true }, user: { value: true } },
    { value: false, source: "account", locked: true, lockedAt: "account" },
  ],
  [
    "account lock beats a group lock",
    { account: { value: false, locked: true }, group: { value: true, locked: true }, user: {} },
    { value: false, source: "account", locked: true, lockedAt: "account" },
  ],
  [
    "account lock without a value locks the built-in default",
    { account: { locked: true }, group: { value: false }, user: { value: false } },
    { value: true, source: "default", locked: true, lockedAt: "account" },
  ],
  [
    "group lock beats the user value",
    { account: {}, group: { value: false, locked: true }, user: { value: true } },
    { value: false, source: "group", locked: true, lockedAt: "group" },
  ],
  [
    "group lock without a value locks the account value",
    { account: { value: false }, group: { locked: true }, user: { value: true } },
    { value: false, source: "account", locked: true, lockedAt: "group" },
  ],
  [
    "group lock without a value and no account value locks the default",
    { account: {}, group: { locked: true }, user: { value: false } },
    { value: true, source: "default", locked: true, lockedAt: "group" },
  ],
  [
    "an explicit locked: false changes nothing",
    { account: { value: false, locked: false }, group: { locked: false }, user: { value: true } },
    { value: true, source: "user", locked: false },
  ],
  [
    "a user level cannot lock: its locked flag is ignored",
    { account: {}, user: { value: false, locked: true } as { value: boolean } },
    { value: false, source: "user", locked: false },
  ],
];

for (const [name, levels, expected] of cases) {
  test(`resolveSetting: ${name}`, () => {
    assert.deepEqual(resolveSetting("waitingRoom", levels), expected);
  });
}

test("resolveSetting works for enum settings: an account lock to enhanced beats a user's e2ee", () => {
  assert.deepEqual(resolveSetting("defaultEncryption", { account: { value: "enhanced", locked: true }, user: { value: "e2ee" } }), {
    value: "enhanced",
    source: "account",
    locked: true,
    lockedAt: "account",
  });
  assert.deepEqual(resolveSetting("defaultEncryption", { account: {}, user: {} }), { value: "e2ee", source: "default", locked: false });
});

test("the settings table has the required keys, types and defaults", () => {
  const expected: Record<string, boolean | string> = {
    allowE2ee: true,
    defaultEncryption: "e2ee",
    requireEncryptedThirdParty: true,
    phoneDialIn: true,
    postQuantumKeyExchange: false,
    passcodeRequired: true,
    waitingRoom: true,
    joinBeforeHost: false,
    cloudRecording: false,
    recordingRetention: "forever",
    liveStreaming: false,
    liveTranscription: false,
    breakoutRooms: true,
    polling: true,
    reactions: true,
    inMeetingChat: true,
    privateChat: true,
    chatHistory: false,
    fileSharing: true,
  };
  assert.deepEqual(defaultSettings(), expected);
  assert.deepEqual(
    SETTING_KEYS.filter((k) => SETTINGS[k].needsServerSideMember),
    ["cloudRecording", "liveStreaming", "liveTranscription", "phoneDialIn", "chatHistory"],
  );
  assert.equal(SETTINGS.requireEncryptedThirdParty.label, "Require encryption for 3rd-party endpoints (SIP/H.323)");
  for (const entry of settingsCatalog()) {
    assert.ok(entry.description.length > 10, entry.key);
    assert.equal(entry.unavailableInE2ee !== undefined, entry.needsServerSideMember, entry.key);
  }
});

test("resolveAll resolves every key, and ignores keys not in the levels", () => {
  const all = resolveAll({ account: { polling: { value: false, locked: true } }, group: {}, user: { reactions: { value: false } } });
  assert.deepEqual(Object.keys(all).sort(), [...SETTING_KEYS].sort());
  assert.deepEqual(all.polling, { value: false, source: "account", locked: true, lockedAt: "account" });
  assert.deepEqual(all.reactions, { value: false, source: "user", locked: false });
  assert.deepEqual(all.allowE2ee, { value: true, source: "default", locked: false });
});

test("a key locked at account level is read-only for groups and users; a group lock for its users only", () => {
  const account = { polling: { value: false, locked: true } };
  const group = { reactions: { value: true, locked: true } };
  assert.doesNotThrow(() => checkWritable("account", ["polling"], { account }));
  assert.throws(() => checkWritable("group", ["polling"], { account }), (e: unknown) => isServerError(e, "SETTING_LOCKED") && /polling.*account/.test(e.message));
  assert.doesNotThrow(() => checkWritable("group", ["reactions"], { account, group }));
  assert.throws(() => checkWritable("user", ["reactions"], { account, group }), (e: unknown) => isServerError(e, "SETTING_LOCKED") && /group/.test(e.message));
  assert.throws(() => checkWritable("user", ["polling"], { account, group }), (e: unknown) => isServerError(e, "SETTING_LOCKED"));
  assert.doesNotThrow(() => checkWritable("user", ["privateChat"], { account, group }));
});

test("levelView shows this level's value and lock, the effective value, its source and who locks it", () => {
  const view = levelView("user", {
    account: { polling: { value: false, locked: true } },
    group: { reactions: { locked: true } },
    user: { polling: { value: true }, privateChat: { value: false } },
  });
  assert.deepEqual(view.polling, { value: true, locked: false, effective: false, source: "account", lockedAt: "account", writable: false });
  assert.deepEqual(view.reactions, { value: null, locked: false, effective: true, source: "default", lockedAt: "group", writable: false });
  assert.deepEqual(view.privateChat, { value: false, locked: false, effective: false, source: "user", writable: true });
  assert.equal(view.cloudRecording.needsServerSideMember, true);
  const groupView = levelView("group", { account: {}, group: { reactions: { value: false, locked: true } } });
  assert.deepEqual(groupView.reactions, { value: false, locked: true, effective: false, source: "group", lockedAt: "group", writable: true });
});

const defaults = resolveAll({ account: {} });

function expectCode(code: string, fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => isServerError(e) && e.code === code);
}

test("meeting options default to the effective settings: E2EE, passcode, waiting room, no join before host", () => {
  assert.deepEqual(decideMeetingOptions(defaults, {}), { encryption: "e2ee", postQuantum: false, passcode: true, waitingRoom: true, joinBeforeHost: false });
  assert.deepEqual(decideMeetingOptions(defaults, {}, "open"), { encryption: "e2ee", postQuantum: false, passcode: true, waitingRoom: false, joinBeforeHost: true });
});

test("E2EE is refused with E2EE_NOT_ALLOWED when allowE2ee is off, and the default falls back to enhanced", () => {
  const noE2ee = resolveAll({ account: { allowE2ee: { value: false } } });
  expectCode("E2EE_NOT_ALLOWED", () => decideMeetingOptions(noE2ee, { encryption: "e2ee" }));
  assert.equal(decideMeetingOptions(noE2ee, {}).encryption, "enhanced");
  assert.equal(decideMeetingOptions(noE2ee, { encryption: "enhanced" }).encryption, "enhanced");
});

test("a locked defaultEncryption is the only encryption allowed", () => {
  const onlyE2ee = resolveAll({ account: { defaultEncryption: { value: "e2ee", locked: true } } });
  expectCode("SETTING_LOCKED", () => decideMeetingOptions(onlyE2ee, { encryption: "enhanced" }));
  assert.equal(decideMeetingOptions(onlyE2ee, {}).encryption, "e2ee");
});

test("a meeting without a passcode is refused while passcodeRequired is locked on, allowed while unlocked", () => {
  assert.equal(decideMeetingOptions(defaults, { passcode: false }).passcode, false);
  const locked = resolveAll({ account: {}, group: { passcodeRequired: { value: true, locked: true } } });
  expectCode("SETTING_LOCKED", () => decideMeetingOptions(locked, { passcode: false }));
  const lockedOff = resolveAll({ account: { passcodeRequired: { value: false, locked: true } } });
  assert.equal(decideMeetingOptions(lockedOff, {}).passcode, false);
  assert.equal(decideMeetingOptions(lockedOff, { passcode: true }).passcode, true, "locked off still allows a passcode");
});

test("locked waiting room and join before host force their value; asking for the other one is SETTING_LOCKED", () => {
  const locked = resolveAll({ account: { waitingRoom: { value: true, locked: true }, joinBeforeHost: { value: false, locked: true } } });
  expectCode("SETTING_LOCKED", () => decideMeetingOptions(locked, { waitingRoom: false }));
  expectCode("SETTING_LOCKED", () => decideMeetingOptions(locked, { joinBeforeHost: true }));
  const open = decideMeetingOptions(locked, {}, "open");
  assert.equal(open.waitingRoom, true, "a lock beats the admin token's open fallback");
  assert.equal(open.joinBeforeHost, false);
  assert.equal(decideMeetingOptions(defaults, { waitingRoom: false, joinBeforeHost: true }).waitingRoom, false, "unlocked: the request wins");
});

test("an E2EE meeting's settings snapshot turns off features that need a server-side member, saying why", () => {
  const withRecording = resolveAll({ account: { cloudRecording: { value: true } } });
  const e2ee = meetingSettingsSnapshot(withRecording, "e2ee");
  assert.equal(e2ee.values.cloudRecording, false);
  assert.match(e2ee.unavailable.cloudRecording ?? "", /end-to-end encrypted/);
  assert.deepEqual(Object.keys(e2ee.unavailable).sort(), ["chatHistory", "cloudRecording", "liveStreaming", "liveTranscription", "phoneDialIn"]);
  assert.match(e2ee.unavailable.chatHistory ?? "", /read the chat/, "saving chat says its own reason");
  const enhanced = meetingSettingsSnapshot(withRecording, "enhanced");
  assert.equal(enhanced.values.cloudRecording, true);
  assert.deepEqual(enhanced.unavailable, {});
});

test("post-quantum key exchange: the request wins unless postQuantumKeyExchange is locked, which forces its value", () => {
  assert.equal(decideMeetingOptions(defaults, { postQuantum: true }).postQuantum, true);
  const on = resolveAll({ account: {}, group: { postQuantumKeyExchange: { value: true } } });
  assert.equal(decideMeetingOptions(on, {}).postQuantum, true, "the setting is the default");
  assert.equal(decideMeetingOptions(on, { postQuantum: false }).postQuantum, false);
  const lockedOn = resolveAll({ account: { postQuantumKeyExchange: { value: true, locked: true } } });
  expectCode("SETTING_LOCKED", () => decideMeetingOptions(lockedOn, { postQuantum: false }));
  assert.equal(decideMeetingOptions(lockedOn, {}, "open").postQuantum, true, "admin-token meetings too");
  const lockedOff = resolveAll({ account: {}, group: { postQuantumKeyExchange: { value: false, locked: true } } });
  expectCode("SETTING_LOCKED", () => decideMeetingOptions(lockedOff, { postQuantum: true }));
});
