/**
 * Group chat, private chat and files shared in chat, end to end encrypted (docs/protocol.md §6.2).
 *
 * - A group message is an MLS application message (PrivateMessage) of the current epoch, to
 *   everyone in the group. A private message is sealed to its recipient's leaf key inside one
 *   (MeetingSession.sendSealed): no other member can open it.
 * - A file is encrypted here with a fresh key (files/file-crypto.ts), its ciphertext uploaded to
 *   the meeting's server, and the key sent inside the chat message; receivers download the
 *   ciphertext and decrypt it on their device.
 * - The meeting's settings (inMeetingChat, privateChat, fileSharing) are enforced when sending
 *   and when receiving (a message sent anyway is refused with FEATURE_DISABLED).
 * - History: this member's own transcript, for as long as it is in the meeting. Nothing is sent
 *   to joiners from before they joined; `transcript()` lets a participant save the chat to its
 *   own device. In Enhanced meetings whose settings save chat (features.chatHistory), each
 *   member also hands its own group messages to the server, which keeps them sealed under the KMS.
 */
import { FileKey, MAX_FILE_BYTES, decryptFile, encryptFile, fromBase64, toBase64, type AppMessage } from "@conclave/protocol";
import { TypedEmitter } from "../events.js";
import type { AppMessageEvent, MeetingSession } from "../meeting-session.js";
import { CLIENT_ERRORS, ClientError } from "../errors.js";
import { errorEvent, randomLocalId } from "./common.js";

/** A file shared in chat, as it is shown (its key stays inside MeetingChat). */
export interface ChatFile {
  fileId: string;
  name: string;
  /** Plaintext size in bytes. */
  size: number;
  mediaType: string;
}

export interface ChatEntry {
  id: string;
  from: string;
  fromName: string;
  /** A private message: only `from` and `to` can read it. */
  private: boolean;
  /** The recipient of a private message (null in group chat). */
  to: string | null;
  toName: string | null;
  /** Sent by this member. */
  mine: boolean;
  /** When this member sent or received it (ms since the Unix epoch, local clock). */
  at: number;
  /** The breakout room it was said in (null: the main meeting). */
  room: string | null;
  text: string | null;
  file: ChatFile | null;
}

/** How encrypted files reach the meeting's server and come back (HTTPS; see files-transport.ts). */
export interface FileTransport {
  upload(meetingId: string, fileToken: string, ciphertext: Uint8Array): Promise<string>;
  download(meetingId: string, fileToken: string, fileId: string): Promise<Uint8Array>;
}

export interface MeetingChatEvents extends Record<string, unknown> {
  message: ChatEntry;
  error: { code: string; message: string };
}

export interface MeetingChatOptions {
  /** Where files go; without it files can be received (listed) but not shared or downloaded. */
  files?: FileTransport;
  /** Most entries kept (oldest dropped first). Default 2,000. */
  maxEntries?: number;
}

export class MeetingChat extends TypedEmitter<MeetingChatEvents> {
  readonly #session: MeetingSession;
  readonly #opts: MeetingChatOptions;
  readonly #entries: ChatEntry[] = [];
  /** The ids of the entries kept: a member cannot reuse another's id (and so its file key). */
  readonly #ids = new Set<string>();
  /** File keys by chat entry id: never part of an entry, never logged. */
  readonly #keys = new Map<string, Uint8Array>();
  /** Display names seen in any group this member was in (a private chat partner may have moved). */
  readonly #names = new Map<string, string>();
  readonly #off: (() => void)[] = [];

  constructor(session: MeetingSession, opts: MeetingChatOptions = {}) {
    super();
    this.#session = session;
    this.#opts = opts;
    this.#off.push(
      session.on("appMessage", (m) => this.#onMessage(m)),
      session.on("presence", (members) => {
        for (const m of members) this.#names.set(m.memberId, m.displayName);
      }),
    );
  }

  /** Every message this member sent or received here, oldest first. */
  get entries(): readonly ChatEntry[] {
    return this.#entries;
  }

  /** Sends `text` to everyone in this member's group (the main meeting or its breakout room). */
  async send(text: string): Promise<ChatEntry> {
    const message: AppMessage = { v: 1, type: "chat", id: randomLocalId(), text };
    await this.#session.sendAppMessage(message);
    this.#session.archiveChat(message.id, text);
    return this.#record(this.#mine(message.id, { text }));
  }

  /** Sends `text` to one member only: sealed to it, routed to it, unreadable by anyone else. */
  async sendPrivate(memberId: string, text: string): Promise<ChatEntry> {
    const message: AppMessage = { v: 1, type: "privateChat", id: randomLocalId(), text };
    await this.#session.sendSealed(memberId, message);
    return this.#record(this.#mine(message.id, { text, to: memberId }));
  }

  /**
   * Shares a file: encrypts it with a fresh key, uploads the ciphertext, and sends the key in a
   * chat message (to the group, or sealed to `to`). The server never sees the key or a byte of it.
   */
  async shareFile(data: Uint8Array, meta: { name: string; mediaType?: string; to?: string }): Promise<ChatEntry> {
    const transport = this.#opts.files;
    if (!transport) throw new ClientError("FILE_UPLOAD_FAILED", "this client has no file transport");
    const token = this.#session.fileToken;
    if (token === null) throw new ClientError("FILE_UPLOAD_FAILED", "not let into the meeting yet");
    if (data.length > MAX_FILE_BYTES) throw new ClientError("FILE_UPLOAD_FAILED", "file too large");
    // Check the settings before spending an upload on a message that cannot be sent.
    const features = this.#session.features;
    if (!features.fileSharing || !(meta.to === undefined ? features.inMeetingChat : features.privateChat)) {
      throw new ClientError("FILE_UPLOAD_FAILED", "file sharing is off in this meeting");
    }
    const key = FileKey.generate();
    const raw = key.exportBytes();
    let fileId: string;
    try {
      const ciphertext = await encryptFile(key, data);
      fileId = await transport.upload(this.#session.meetingId, token, ciphertext);
    } catch (e) {
      raw.fill(0);
      if (e instanceof ClientError) throw e;
      throw new ClientError("FILE_UPLOAD_FAILED", e instanceof Error ? e.message : String(e), { cause: e });
    } finally {
      key.destroy();
    }
    const fields = { id: randomLocalId(), fileId, name: meta.name, size: data.length, mediaType: meta.mediaType ?? "", key: toBase64(raw) };
    if (meta.to === undefined) await this.#session.sendAppMessage({ v: 1, type: "file", ...fields });
    else await this.#session.sendSealed(meta.to, { v: 1, type: "privateFile", ...fields });
    this.#keys.set(fields.id, raw);
    const file: ChatFile = { fileId, name: meta.name, size: data.length, mediaType: fields.mediaType };
    return this.#record(this.#mine(fields.id, { file, ...(meta.to !== undefined ? { to: meta.to } : {}) }));
  }

  /** Downloads and decrypts a shared file (on this device); FILE_DECRYPT_FAILED if it was altered. */
  async download(entryId: string): Promise<Uint8Array> {
    const entry = this.#entries.find((e) => e.id === entryId);
    const raw = this.#keys.get(entryId);
    if (!entry?.file || !raw) throw new ClientError("FILE_DOWNLOAD_FAILED", "no such shared file");
    const transport = this.#opts.files;
    const token = this.#session.fileToken;
    if (!transport || token === null) throw new ClientError("FILE_DOWNLOAD_FAILED", "not connected to the meeting");
    let ciphertext: Uint8Array;
    try {
      ciphertext = await transport.download(this.#session.meetingId, token, entry.file.fileId);
    } catch (e) {
      throw new ClientError("FILE_DOWNLOAD_FAILED", e instanceof Error ? e.message : String(e), { cause: e });
    }
    return decryptFile(FileKey.fromBytes(raw), ciphertext, entry.file.size);
  }

  /**
   * The chat as plain text, to save on this device (nothing is kept on the server):
   * one line per message, "[time] Name: text", private ones marked.
   */
  transcript(): string {
    return this.#entries
      .map((e) => {
        const time = new Date(e.at).toISOString().slice(11, 19);
        const where = e.private ? (e.mine ? ` (privately to ${e.toName ?? e.to})` : " (privately to you)") : "";
        const body = e.text ?? (e.file ? `shared a file: ${e.file.name} (${e.file.size} bytes)` : "");
        return `[${time}] ${e.fromName}${where}: ${body}`;
      })
      .join("\n");
  }

  close(): void {
    for (const off of this.#off.splice(0)) off();
    for (const k of this.#keys.values()) k.fill(0);
    this.#keys.clear();
  }

  #onMessage(m: AppMessageEvent): void {
    const msg = m.message;
    if (msg.type !== "chat" && msg.type !== "privateChat" && msg.type !== "file" && msg.type !== "privateFile") return;
    this.#names.set(m.from, m.fromName);
    // Ids are the sender's pick: one reusing an earlier message's id (someone else's, whose file
    // key it would replace) is refused. MLS already refuses a replay of the same message.
    if (this.#ids.has(msg.id)) {
      this.emit("error", { code: "APP_MESSAGE_DUPLICATE", message: CLIENT_ERRORS.APP_MESSAGE_DUPLICATE });
      return;
    }
    const base = {
      from: m.from,
      fromName: m.fromName,
      mine: false,
      at: Date.now(),
      room: this.#session.room,
      to: m.sealed ? this.#session.memberId : null,
      toName: m.sealed ? this.#session.identity.displayName : null,
      private: m.sealed,
    };
    switch (msg.type) {
      case "chat":
      case "privateChat":
        this.#record({ ...base, id: msg.id, text: msg.text, file: null });
        return;
      case "file":
      case "privateFile":
        try {
          this.#keys.set(msg.id, fromBase64(msg.key));
        } catch (e) {
          this.emit("error", errorEvent(e));
          return;
        }
        this.#record({ ...base, id: msg.id, text: null, file: { fileId: msg.fileId, name: msg.name, size: msg.size, mediaType: msg.mediaType } });
        return;
    }
  }

  #mine(id: string, what: { text?: string; file?: ChatFile; to?: string }): ChatEntry {
    const s = this.#session;
    return {
      id,
      from: s.memberId,
      fromName: s.identity.displayName,
      private: what.to !== undefined,
      to: what.to ?? null,
      toName: what.to === undefined ? null : (this.#names.get(what.to) ?? s.presence.find((p) => p.memberId === what.to)?.displayName ?? null),
      mine: true,
      at: Date.now(),
      room: s.room,
      text: what.text ?? null,
      file: what.file ?? null,
    };
  }

  #record(entry: ChatEntry): ChatEntry {
    this.#entries.push(entry);
    this.#ids.add(entry.id);
    const max = this.#opts.maxEntries ?? 2000;
    while (this.#entries.length > max) {
      const old = this.#entries.shift()!;
      this.#ids.delete(old.id);
      this.#keys.get(old.id)?.fill(0);
      this.#keys.delete(old.id);
    }
    this.emit("message", entry);
    return entry;
  }
}
