/**
 * The chat side panel: group and private messages, files, and "save the chat to this device".
 * Everything here is end-to-end encrypted by the SDK (MeetingChat): group messages are MLS
 * application messages, private ones are sealed to their one recipient, files are encrypted here
 * before upload. What the meeting's settings turn off is not offered (and the SDK and the other
 * members refuse it anyway).
 */
import type { ChatEntry } from "@conclave/client";
import type { MeetingController, MeetingSnapshot } from "../meeting/meeting-controller.js";
import { t } from "../i18n/i18n.js";
import { UiError, uiErrorFromCode } from "../errors.js";
import { errorBox } from "./common.js";
import { h, icon, replaceChildren } from "./dom.js";
import { ICONS } from "./icons.js";

const EVERYONE = "";

export class ChatPanel {
  readonly element: HTMLElement;
  readonly #controller: MeetingController;
  readonly #list = h("ol", { class: "chat-messages", "data-testid": "chat-messages", "aria-live": "polite", "aria-label": t("chat.messages") });
  readonly #recipient = h("select", { id: "chat-recipient", "data-testid": "chat-recipient" });
  readonly #input = h("textarea", { id: "chat-input", class: "chat-input", rows: 2, maxlength: 2000, "data-testid": "chat-input", "aria-label": t("chat.inputLabel") });
  readonly #send = h("button", { type: "button", class: "button primary small", "data-testid": "chat-send" }, t("chat.send"));
  readonly #fileInput = h("input", { type: "file", class: "visually-hidden", "data-testid": "chat-file-input", tabindex: -1, "aria-hidden": "true" });
  readonly #attach = h("button", { type: "button", class: "button small", "data-testid": "chat-attach" }, icon(ICONS.paperclip), t("chat.attach"));
  readonly #save = h("button", { type: "button", class: "button small", "data-testid": "chat-save" }, icon(ICONS.download), t("chat.save"));
  readonly #savedNotice = h("p", { class: "help chat-saved", "data-testid": "chat-saved-notice", hidden: true }, icon(ICONS.key), t("chat.savedOnServer"));
  readonly #off = h("p", { class: "muted", "data-testid": "chat-off", hidden: true }, t("chat.off"));
  readonly #composer: HTMLElement;
  readonly #status = h("div", { class: "form-status", "aria-live": "polite" });
  #shown = 0;
  #recipientsKey = "";

  constructor(controller: MeetingController, onClose: () => void) {
    this.#controller = controller;
    const close = h("button", { type: "button", class: "icon-button", "aria-label": t("chat.close"), "data-testid": "chat-close" }, icon(ICONS.close));
    close.addEventListener("click", onClose);
    this.#send.addEventListener("click", () => void this.#sendText());
    this.#input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        void this.#sendText();
      }
    });
    this.#attach.addEventListener("click", () => this.#fileInput.click());
    this.#fileInput.addEventListener("change", () => void this.#sendFile());
    this.#save.addEventListener("click", () => this.#saveTranscript());
    this.#composer = h(
      "div",
      { class: "chat-composer" },
      h("label", { class: "field-label", for: "chat-recipient" }, t("chat.to")),
      this.#recipient,
      this.#input,
      h("div", { class: "row" }, this.#send, this.#attach, this.#fileInput),
    );
    this.element = h(
      "aside",
      { class: "sidebar chat-panel", id: "chat", "aria-labelledby": "chat-title", "data-testid": "chat-panel", hidden: true },
      h("div", { class: "sidebar-head" }, h("h2", { id: "chat-title" }, t("chat.title")), close),
      h("p", { class: "help" }, icon(ICONS.lock), t("chat.e2eeNote")),
      this.#savedNotice,
      this.#list,
      this.#off,
      this.#composer,
      this.#status,
      h("div", { class: "row" }, this.#save),
    );
  }

  /** Moves focus into the panel (after opening it). */
  focus(): void {
    if (!this.#input.disabled) this.#input.focus();
  }

  render(s: MeetingSnapshot): void {
    const f = s.features;
    const group = f.inMeetingChat;
    const priv = f.privateChat;
    this.#savedNotice.hidden = !f.chatHistory || s.encryption !== "enhanced";
    this.#off.hidden = group || priv;
    this.#composer.hidden = !(group || priv) || s.phase !== "in-meeting";
    this.#attach.hidden = !f.fileSharing;
    // Recipients: everyone (group chat) and, for private chat, each member of this group.
    const others = s.members.filter((m) => m.memberId !== s.selfId);
    const key = `${group}|${priv}|${others.map((m) => `${m.memberId}:${m.displayName}`).join(",")}`;
    if (key !== this.#recipientsKey) {
      this.#recipientsKey = key;
      const current = this.#recipient.value;
      replaceChildren(
        this.#recipient,
        group ? h("option", { value: EVERYONE }, t("chat.everyone")) : null,
        ...(priv ? others.map((m) => h("option", { value: m.memberId, "data-name": m.displayName }, t("chat.privatelyTo", { name: m.displayName }))) : []),
      );
      if ([...this.#recipient.options].some((o) => o.value === current)) this.#recipient.value = current;
    }
    // Entries are only ever appended; render the new ones.
    if (s.chat.length < this.#shown) {
      replaceChildren(this.#list);
      this.#shown = 0;
    }
    for (const entry of s.chat.slice(this.#shown)) this.#list.append(this.#row(entry));
    this.#shown = s.chat.length;
    this.#list.lastElementChild?.scrollIntoView?.({ block: "nearest" });
  }

  #row(e: ChatEntry): HTMLElement {
    const time = new Date(e.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const whereLabel = e.private ? (e.mine ? t("chat.privateTo", { name: e.toName ?? "?" }) : t("chat.privateToYou")) : null;
    let body: HTMLElement;
    if (e.file) {
      const download = h("button", { type: "button", class: "button small", "data-testid": "file-download", "data-file-name": e.file.name }, icon(ICONS.download), t("chat.download"));
      download.addEventListener("click", () => void this.#download(e.id, e.file!.name));
      body = h(
        "div",
        { class: "chat-file", "data-testid": "chat-file" },
        icon(ICONS.paperclip),
        h("span", { class: "chat-file-name" }, e.file.name),
        h("span", { class: "muted" }, formatSize(e.file.size)),
        download,
      );
    } else {
      body = h("p", { class: "chat-text", "data-testid": "chat-text" }, e.text ?? "");
    }
    return h(
      "li",
      {
        class: `chat-message${e.mine ? " mine" : ""}${e.private ? " private" : ""}`,
        "data-testid": "chat-message",
        "data-from": e.fromName,
        ...(e.private ? { "data-private": "" } : {}),
      },
      h("div", { class: "chat-meta" }, h("strong", { class: "chat-from" }, e.mine ? t("chat.you") : e.fromName), h("span", { class: "muted" }, time), whereLabel ? h("span", { class: "chat-private" }, icon(ICONS.lock), whereLabel) : null),
      body,
    );
  }

  async #sendText(): Promise<void> {
    const text = this.#input.value.trim();
    if (!text) return;
    const to = this.#recipient.value;
    try {
      if (to === EVERYONE) await this.#controller.sendChat(text);
      else await this.#controller.sendPrivateChat(to, text);
      this.#input.value = "";
      replaceChildren(this.#status);
    } catch (e) {
      this.#fail(e);
    }
  }

  async #sendFile(): Promise<void> {
    const file = this.#fileInput.files?.[0];
    this.#fileInput.value = "";
    if (!file) return;
    const to = this.#recipient.value;
    replaceChildren(this.#status, h("p", { class: "muted" }, t("chat.uploading", { name: file.name })));
    try {
      await this.#controller.shareFile(file, to === EVERYONE ? undefined : to);
      replaceChildren(this.#status);
    } catch (e) {
      this.#fail(e);
    }
  }

  async #download(entryId: string, name: string): Promise<void> {
    try {
      const blob = await this.#controller.downloadFile(entryId);
      saveBlob(blob, name);
    } catch (e) {
      this.#fail(e);
    }
  }

  #saveTranscript(): void {
    const text = this.#controller.chatTranscript();
    saveBlob(new Blob([text], { type: "text/plain;charset=utf-8" }), t("chat.transcriptFile"));
  }

  #fail(e: unknown): void {
    const code = (e as { code?: unknown })?.code;
    const error = e instanceof UiError ? e : uiErrorFromCode(typeof code === "string" ? code : "INTERNAL");
    replaceChildren(this.#status, errorBox(error));
  }
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** Saves a blob on this device under `name` (a download; nothing goes to the server). */
function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name, class: "visually-hidden" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
