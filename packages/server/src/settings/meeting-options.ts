/**
 * What a new or edited meeting may be, given its owner's effective settings: the encryption,
 * passcode, waiting room and join-before-host options a request asks for are checked against
 * the resolved settings, and what the request leaves out comes from them.
 *
 * - Encryption: E2EE needs allowE2ee (else E2EE_NOT_ALLOWED). A locked defaultEncryption is the
 *   only encryption allowed (else SETTING_LOCKED). Unrequested, it is defaultEncryption, or
 *   enhanced when that is e2ee but E2EE is not allowed.
 * - Passcode: unrequested, passcodeRequired decides. A meeting without a passcode is refused when
 *   passcodeRequired is locked on (SETTING_LOCKED); locked off still allows a passcode.
 * - Waiting room, join before host and post-quantum key exchange: a locked setting forces its
 *   value (asking for the other one is SETTING_LOCKED); unlocked, the request wins, else the setting.
 */
import { ServerError } from "../errors.js";
import type { Encryption } from "../storage/meetings.js";
import { SETTINGS, SETTING_KEYS, e2eeUnavailableReason, type SettingKey, type SettingValues } from "./catalog.js";
import { effectiveValues, type ResolvedSettings } from "./resolve.js";

export interface MeetingRequest {
  readonly encryption?: Encryption;
  readonly postQuantum?: boolean;
  readonly passcode?: boolean;
  readonly waitingRoom?: boolean;
  readonly joinBeforeHost?: boolean;
}

export interface MeetingOptions {
  readonly encryption: Encryption;
  /** The MLS group uses the X-Wing post-quantum suite. */
  readonly postQuantum: boolean;
  readonly passcode: boolean;
  readonly waitingRoom: boolean;
  readonly joinBeforeHost: boolean;
}

/**
 * Where unlocked waiting-room and join-before-host values come from when the request leaves
 * them out. Meetings created with the admin token have no host account that could let people in
 * or start the meeting, so their fallback is open (no waiting room, join before host).
 */
export type UnrequestedFallback = "settings" | "open";

export function decideMeetingOptions(
  settings: ResolvedSettings,
  request: MeetingRequest,
  fallback: UnrequestedFallback = "settings",
): MeetingOptions {
  return {
    encryption: decideEncryption(settings, request.encryption),
    postQuantum: decideLockable(settings, "postQuantumKeyExchange", request.postQuantum),
    passcode: decidePasscode(settings, request.passcode),
    waitingRoom: decideLockable(settings, "waitingRoom", request.waitingRoom, fallback === "open" ? false : undefined),
    joinBeforeHost: decideLockable(settings, "joinBeforeHost", request.joinBeforeHost, fallback === "open" ? true : undefined),
  };
}

/** The encryption a meeting gets for `requested` (undefined: not asked for). */
export function decideEncryption(settings: ResolvedSettings, requested: Encryption | undefined): Encryption {
  const allowE2ee = settings.allowE2ee.value;
  const defaultEncryption = settings.defaultEncryption;
  let encryption: Encryption;
  if (requested !== undefined) {
    encryption = requested;
  } else {
    encryption = defaultEncryption.value === "e2ee" && !allowE2ee && !defaultEncryption.locked ? "enhanced" : defaultEncryption.value;
  }
  if (encryption === "e2ee" && !allowE2ee) throw new ServerError("E2EE_NOT_ALLOWED");
  if (defaultEncryption.locked && encryption !== defaultEncryption.value) {
    throw new ServerError("SETTING_LOCKED", `defaultEncryption is locked to ${defaultEncryption.value}`);
  }
  return encryption;
}

/** Whether a meeting gets a passcode for `requested` (undefined: not asked for). */
export function decidePasscode(settings: ResolvedSettings, requested: boolean | undefined): boolean {
  const passcodeRequired = settings.passcodeRequired;
  const passcode = requested ?? passcodeRequired.value;
  if (!passcode && passcodeRequired.locked && passcodeRequired.value) {
    throw new ServerError("SETTING_LOCKED", "passcodeRequired is locked on: meetings must have a passcode");
  }
  return passcode;
}

/** A lockable meeting option: a lock forces the setting's value; unlocked, the request wins. */
export function decideLockable(
  settings: ResolvedSettings,
  key: "waitingRoom" | "joinBeforeHost" | "postQuantumKeyExchange",
  requested: boolean | undefined,
  openFallback?: boolean,
): boolean {
  const resolved = settings[key];
  if (resolved.locked) {
    if (requested !== undefined && requested !== resolved.value) {
      throw new ServerError("SETTING_LOCKED", `${key} is locked ${resolved.value ? "on" : "off"}`);
    }
    return resolved.value;
  }
  return requested ?? openFallback ?? resolved.value;
}

/** The settings a meeting was created with, as stored with it and shown to its owner. */
export interface MeetingSettingsSnapshot {
  readonly values: SettingValues;
  /** Features turned off because the meeting is end-to-end encrypted, with the reason. */
  readonly unavailable: Readonly<Partial<Record<SettingKey, string>>>;
}

/** The owner's effective values, with the features E2EE rules out turned off. */
export function meetingSettingsSnapshot(settings: ResolvedSettings, encryption: Encryption): MeetingSettingsSnapshot {
  const values: Record<string, unknown> = { ...effectiveValues(settings) };
  const unavailable: Partial<Record<SettingKey, string>> = {};
  if (encryption === "e2ee") {
    for (const key of SETTING_KEYS) {
      if (SETTINGS[key].needsServerSideMember) {
        values[key] = false;
        unavailable[key] = e2eeUnavailableReason(key)!;
      }
    }
  }
  return { values: values as SettingValues, unavailable };
}
