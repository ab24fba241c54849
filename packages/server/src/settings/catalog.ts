/**
 * The table of settings: every key an owner or admin can set and lock at account or group level,
 * and a user can set for themselves where nothing above locks it. The API, the OpenAPI document,
 * docs/api.md and the web app all read this one table.
 */
import { z } from "zod";

interface BooleanDefinition {
  readonly type: "boolean";
  readonly default: boolean;
}

interface EnumDefinition<V extends string = string> {
  readonly type: "enum";
  readonly values: readonly V[];
  readonly default: V;
}

interface CommonDefinition {
  /** Short label for the settings page. */
  readonly label: string;
  /** What the setting does, one sentence. */
  readonly description: string;
  /**
   * The feature needs a server-side member that can read the media (a recorder, a streaming or
   * transcription bot). End-to-end encrypted meetings have none, so the feature is unavailable there.
   */
  readonly needsServerSideMember: boolean;
  /** Why the feature is off in E2EE meetings, when it is not the media reason (E2EE_UNAVAILABLE_REASON). */
  readonly e2eeReason?: string;
  /**
   * The feature it governs is not built yet: the key is kept (stored values and locks stay
   * valid for when it is), the catalog says so, and the web app does not offer it.
   */
  readonly notBuilt?: true;
}

export type SettingDefinition = CommonDefinition & (BooleanDefinition | EnumDefinition);

/** Why a needsServerSideMember feature is unavailable in an E2EE meeting (shown by the API and UI). */
export const E2EE_UNAVAILABLE_REASON =
  "Unavailable in end-to-end encrypted meetings: it needs a server-side member that can read the media, and in E2EE meetings only participants hold the keys.";

function bool(label: string, defaultValue: boolean, description: string, needsServerSideMember = false, e2eeReason?: string) {
  return { type: "boolean", default: defaultValue, label, description, needsServerSideMember, ...(e2eeReason !== undefined ? { e2eeReason } : {}) } as const;
}

// A setting whose feature is not built yet carries `notBuilt: true` (see CommonDefinition.notBuilt);
// every feature in the catalog is built today.

/** Why saving chat on the server is off in E2EE meetings. */
export const CHAT_HISTORY_E2EE_REASON =
  "Unavailable in end-to-end encrypted meetings: the server would have to read the chat. Participants can save the chat on their own devices instead.";

/** Why a setting's feature is unavailable in E2EE meetings, or undefined when it is available. */
export function e2eeUnavailableReason(key: SettingKey): string | undefined {
  const d: SettingDefinition = SETTINGS[key];
  return d.needsServerSideMember ? (d.e2eeReason ?? E2EE_UNAVAILABLE_REASON) : undefined;
}

export const SETTINGS = {
  allowE2ee: bool("Allow end-to-end encryption", true, "Meetings may use end-to-end encryption (E2EE)."),
  defaultEncryption: {
    type: "enum",
    values: ["enhanced", "e2ee"],
    default: "e2ee",
    label: "Default encryption",
    description:
      "Encryption of new meetings: e2ee (keys only on participants' devices) or enhanced (server-side connectors may join, visibly). Locked, it is the only encryption meetings may use.",
    needsServerSideMember: false,
  } as const satisfies EnumDefinition<"enhanced" | "e2ee"> & CommonDefinition,
  requireEncryptedThirdParty: bool(
    "Require encryption for 3rd-party endpoints (SIP/H.323)",
    true,
    "SIP and H.323 endpoints may join only over encrypted transports.",
  ),
  postQuantumKeyExchange: bool(
    "Post-quantum key exchange",
    false,
    "New meetings agree their group keys with the X-Wing hybrid KEM (ML-KEM-768 + X25519), so recorded meetings stay confidential against a future quantum computer; handshake messages are about 10 times larger. Locked, it is the only choice.",
  ),
  passcodeRequired: bool("Require a passcode", true, "New meetings get a passcode. Locked on, no meeting can be created without one."),
  waitingRoom: bool("Waiting room", true, "Participants wait until a host lets them in."),
  joinBeforeHost: bool("Join before host", false, "Participants may enter before the host arrives."),
  cloudRecording: bool("Cloud recording", false, "Meetings may be recorded on the server.", true),
  recordingRetention: {
    type: "enum",
    values: ["forever", "7d", "30d", "90d", "365d"],
    default: "forever",
    label: "Keep cloud recordings",
    description: "How long cloud recordings are kept before they are deleted (crypto-shredded: their data key is destroyed).",
    needsServerSideMember: false,
  } as const satisfies EnumDefinition<"forever" | "7d" | "30d" | "90d" | "365d"> & CommonDefinition,
  liveStreaming: bool("Live streaming", false, "Hosts may stream meetings to an RTMP or RTMPS service (YouTube, Twitch, their own). The stream leaves the meeting's encryption at the connector: everyone sees it in the people list and the shield's exceptions.", true),
  liveTranscription: bool(
    "Live transcription",
    false,
    "Hosts may turn on live captions: a transcription connector joins visibly, turns speech into text on this server, and sends the captions to the participants end to end encrypted.",
    true,
  ),
  phoneDialIn: bool(
    "Phone dial-in",
    true,
    "Participants may join by phone through the server's SIP trunks (when configured). A phone in a meeting makes it partially encrypted: its leg beyond the connector is not end-to-end encrypted.",
    true,
  ),
  breakoutRooms: bool("Breakout rooms", true, "Hosts may split a meeting into smaller rooms."),
  polling: bool("Polls", true, "Hosts may run polls."),
  reactions: bool("Reactions", true, "Participants may send emoji reactions."),
  inMeetingChat: bool("In-meeting chat", true, "Participants may chat with everyone in the meeting."),
  privateChat: bool("Private chat", true, "Participants may send private messages to one another."),
  chatHistory: bool(
    "Save chat in Enhanced meetings",
    false,
    "In Enhanced meetings, participants' apps also send their group chat messages to the server, which keeps them with the meeting's record, encrypted at rest under the KMS. Private messages and files are never saved.",
    true,
    CHAT_HISTORY_E2EE_REASON,
  ),
  fileSharing: bool(
    "File sharing",
    true,
    "Participants may share files in chat. Files are encrypted on the sender's device; the server keeps only their ciphertext, until the meeting ends.",
  ),
} as const satisfies Record<string, SettingDefinition>;

export type SettingKey = keyof typeof SETTINGS;

/** The value type of one setting: boolean, or the union of an enum's values. */
export type SettingValue<K extends SettingKey = SettingKey> = K extends SettingKey
  ? (typeof SETTINGS)[K] extends { type: "enum"; values: readonly (infer V)[] }
    ? V
    : boolean
  : never;

/** One value per key. */
export type SettingValues = { [K in SettingKey]: SettingValue<K> };

export const SETTING_KEYS = Object.keys(SETTINGS) as readonly SettingKey[];

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(SETTINGS, key);
}

/** The zod schema a value of `key` must match. */
export function settingValueSchema(key: SettingKey): z.ZodType<SettingValue> {
  const definition: SettingDefinition = SETTINGS[key];
  return definition.type === "boolean" ? z.boolean() : (z.enum(definition.values as [string, ...string[]]) as z.ZodType<SettingValue>);
}

/** True if `value` is a valid value of `key` (values read back from storage are checked again). */
export function isValidSettingValue(key: SettingKey, value: unknown): value is SettingValue {
  return settingValueSchema(key).safeParse(value).success;
}

export function defaultSettings(): SettingValues {
  const out: Record<string, SettingValue> = {};
  for (const key of SETTING_KEYS) out[key] = SETTINGS[key].default;
  return out as SettingValues;
}

/** The table as the API serves it (GET /api/settings/catalog). */
export interface CatalogEntry {
  key: SettingKey;
  type: "boolean" | "enum";
  values?: readonly string[];
  default: SettingValue;
  label: string;
  description: string;
  needsServerSideMember: boolean;
  /** For needsServerSideMember features: why they are unavailable in E2EE meetings. */
  unavailableInE2ee?: string;
  /** The feature is not built yet: the setting does nothing, and the web app does not show it. */
  notBuilt?: true;
}

export function settingsCatalog(): CatalogEntry[] {
  return SETTING_KEYS.map((key) => {
    const d: SettingDefinition = SETTINGS[key];
    return {
      key,
      type: d.type,
      ...(d.type === "enum" ? { values: d.values } : {}),
      default: d.default as SettingValue,
      label: d.label,
      description: d.description,
      needsServerSideMember: d.needsServerSideMember,
      ...(d.needsServerSideMember ? { unavailableInE2ee: e2eeUnavailableReason(key) } : {}),
      ...(d.notBuilt ? { notBuilt: true as const } : {}),
    };
  });
}
