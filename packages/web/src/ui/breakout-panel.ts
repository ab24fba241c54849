/**
 * Breakout rooms: the host's side panel (plan rooms, assign people by hand or at random, an
 * optional timer, open, visit, broadcast to every room, close) and, for everyone, a banner while
 * in a room (its name, the time left, back to the main meeting).
 *
 * Each room is its own MLS group with its own security code; the SDK (MeetingBreakout) moves
 * people when rooms open and close. Room names and broadcasts travel end-to-end encrypted; the
 * server sees room ids and who is where.
 */
import { MeetingBreakout } from "@conclave/client";
import type { MeetingController, MeetingSnapshot } from "../meeting/meeting-controller.js";
import { t, tn } from "../i18n/i18n.js";
import { UiError, uiErrorFromCode } from "../errors.js";
import { errorBox } from "./common.js";
import { h, icon, replaceChildren } from "./dom.js";
import { ICONS } from "./icons.js";


export class BreakoutPanel {
  readonly element: HTMLElement;
  /** Shown to everyone in a breakout room (and to a host visiting one). */
  readonly banner = h("div", { class: "breakout-banner", "data-testid": "breakout-banner", role: "status", hidden: true });
  readonly #controller: MeetingController;
  readonly #plan: HTMLElement;
  readonly #live: HTMLElement;
  readonly #count = h("input", { id: "breakout-room-count", type: "number", min: 1, max: 50, value: 2, "data-testid": "breakout-room-count" });
  readonly #duration = h("input", { id: "breakout-duration", type: "number", min: 0, max: 1440, value: 0, "data-testid": "breakout-duration" });
  readonly #names = h("div", { class: "breakout-names" });
  readonly #assignments = h("ul", { class: "breakout-assignments", "data-testid": "breakout-assignments" });
  readonly #rooms = h("ul", { class: "breakout-rooms", "data-testid": "breakout-rooms" });
  readonly #broadcast = h("textarea", { id: "breakout-broadcast-input", rows: 2, maxlength: 2000, "data-testid": "breakout-broadcast-input" });
  readonly #status = h("div", { class: "form-status", "aria-live": "polite" });
  readonly #off = h("p", { class: "muted", "data-testid": "breakout-off", hidden: true }, t("breakout.off"));
  /** memberId -> room index (0-based) or -1 for the main meeting. */
  readonly #assigned = new Map<string, number>();
  /** Names of everyone seen in any group, for rooms this host is not in. */
  readonly #names_ = new Map<string, string>();
  #snapshot: MeetingSnapshot | null = null;
  #roomsKey = "";

  constructor(controller: MeetingController, onClose: () => void) {
    this.#controller = controller;
    const close = h("button", { type: "button", class: "icon-button", "aria-label": t("breakout.close"), "data-testid": "breakout-panel-close" }, icon(ICONS.close));
    close.addEventListener("click", onClose);
    this.#count.addEventListener("change", () => this.#renderPlan());
    const random = h("button", { type: "button", class: "button small", "data-testid": "breakout-assign-random" }, t("breakout.random"));
    random.addEventListener("click", () => this.#assignRandomly());
    const open = h("button", { type: "button", class: "button primary small", "data-testid": "breakout-open" }, t("breakout.open"));
    open.addEventListener("click", () => void this.#open());
    this.#plan = h(
      "section",
      { class: "breakout-plan", "data-testid": "breakout-plan" },
      h("label", { class: "field-label", for: "breakout-room-count" }, t("breakout.count")),
      this.#count,
      this.#names,
      h("div", { class: "row" }, random),
      h("h3", {}, t("breakout.assign")),
      this.#assignments,
      h("label", { class: "field-label", for: "breakout-duration" }, t("breakout.duration")),
      this.#duration,
      h("p", { class: "help" }, t("breakout.durationHelp")),
      open,
    );
    const send = h("button", { type: "button", class: "button small", "data-testid": "breakout-broadcast-send" }, t("breakout.broadcastSend"));
    send.addEventListener("click", () => void this.#sendBroadcast());
    const closeRooms = h("button", { type: "button", class: "button small danger", "data-testid": "breakout-close" }, t("breakout.closeRooms"));
    closeRooms.addEventListener("click", () => this.#controller.closeBreakout());
    this.#live = h(
      "section",
      { class: "breakout-live", "data-testid": "breakout-live", hidden: true },
      this.#rooms,
      h("label", { class: "field-label", for: "breakout-broadcast-input" }, t("breakout.broadcast")),
      this.#broadcast,
      h("div", { class: "row" }, send, closeRooms),
    );
    this.element = h(
      "aside",
      { class: "sidebar breakout-panel", id: "breakout", "aria-labelledby": "breakout-title", "data-testid": "breakout-panel", hidden: true },
      h("div", { class: "sidebar-head" }, h("h2", { id: "breakout-title" }, t("breakout.title")), close),
      h("p", { class: "help" }, icon(ICONS.lock), t("breakout.e2eeNote")),
      this.#off,
      this.#live,
      this.#plan,
      this.#status,
    );
    this.#renderPlan();
  }

  focus(): void {
    this.#count.focus();
  }

  render(s: MeetingSnapshot): void {
    this.#snapshot = s;
    for (const p of s.presence) this.#names_.set(p.memberId, p.displayName);
    for (const m of s.members) this.#names_.set(m.memberId, m.displayName);
    const b = s.breakout;
    const hosting = s.role !== "participant" && s.phase === "in-meeting";
    this.#off.hidden = s.features.breakoutRooms;
    this.#plan.hidden = !hosting || b.open || !s.features.breakoutRooms || s.room !== null;
    this.#live.hidden = !hosting || !b.open;
    if (!this.#plan.hidden) this.#renderAssignments(s);
    if (hosting && b.open) this.#renderRooms(s);
    this.#renderBanner(s);
  }

  #renderPlan(): void {
    const n = this.#roomCount();
    while (this.#names.children.length < n) {
      const i = this.#names.children.length;
      this.#names.append(
        h("input", { type: "text", maxlength: 64, value: t("breakout.defaultName", { n: i + 1 }), "data-testid": "breakout-room-name", "aria-label": t("breakout.nameLabel", { n: i + 1 }) }),
      );
    }
    while (this.#names.children.length > n) this.#names.lastElementChild?.remove();
    for (const [id, room] of this.#assigned) if (room >= n) this.#assigned.set(id, -1);
    if (this.#snapshot) this.#renderAssignments(this.#snapshot);
  }

  #roomCount(): number {
    const n = Math.round(Number(this.#count.value));
    return Number.isFinite(n) ? Math.min(50, Math.max(1, n)) : 1;
  }

  /** Everyone in the main meeting but the hosts can be assigned; hosts visit. */
  #assignable(s: MeetingSnapshot): { memberId: string; displayName: string }[] {
    const roles = new Map(s.presence.map((p) => [p.memberId, p.role]));
    return s.members.filter((m) => m.memberId !== s.selfId && roles.get(m.memberId) === "participant").map((m) => ({ memberId: m.memberId, displayName: m.displayName }));
  }

  #renderAssignments(s: MeetingSnapshot): void {
    const n = this.#roomCount();
    const people = this.#assignable(s);
    const key = `${n}|${people.map((p) => p.memberId).join(",")}|${[...this.#assigned].join(",")}`;
    if (key === this.#roomsKey) return;
    this.#roomsKey = key;
    const rows = people.map((p) => {
      const select = h("select", { "data-testid": "breakout-assign", "data-member-name": p.displayName, "aria-label": t("breakout.assignLabel", { name: p.displayName }) });
      select.append(h("option", { value: "-1" }, t("breakout.mainMeeting")));
      for (let i = 0; i < n; i++) select.append(h("option", { value: String(i) }, this.#roomName(i)));
      select.value = String(this.#assigned.get(p.memberId) ?? -1);
      select.addEventListener("change", () => {
        this.#assigned.set(p.memberId, Number(select.value));
        this.#roomsKey = "";
      });
      return h("li", { class: "breakout-assignment" }, h("span", {}, p.displayName), select);
    });
    replaceChildren(this.#assignments, ...(rows.length > 0 ? rows : [h("li", { class: "muted" }, t("breakout.nobody"))]));
  }

  #roomName(i: number): string {
    const input = this.#names.children[i] as HTMLInputElement | undefined;
    return input?.value.trim() || t("breakout.defaultName", { n: i + 1 });
  }

  #assignRandomly(): void {
    const s = this.#snapshot;
    if (!s) return;
    const people = this.#assignable(s);
    const rooms = MeetingBreakout.assignRandomly(people.map((p) => p.memberId), this.#roomCount());
    rooms.forEach((ids, i) => ids.forEach((id) => this.#assigned.set(id, i)));
    this.#roomsKey = "";
    this.#renderAssignments(s);
  }

  async #open(): Promise<void> {
    const n = this.#roomCount();
    const rooms = Array.from({ length: n }, (_, i) => ({ name: this.#roomName(i), members: [] as string[] }));
    for (const [id, room] of this.#assigned) if (room >= 0 && room < n) rooms[room]!.members.push(id);
    const minutes = Math.round(Number(this.#duration.value));
    try {
      await this.#controller.openBreakout(rooms, minutes > 0 ? Math.max(30, minutes * 60) : undefined);
      replaceChildren(this.#status);
    } catch (e) {
      this.#fail(e);
    }
  }

  #renderRooms(s: MeetingSnapshot): void {
    const rows = s.breakout.rooms.map((r) => {
      const here = s.room === r.roomId;
      const go = h("button", { type: "button", class: "button small", "data-testid": here ? "breakout-return" : "breakout-visit", "data-room-id": r.roomId }, here ? t("breakout.returnMain") : t("breakout.visit"));
      go.addEventListener("click", () => {
        const act = here ? this.#controller.returnToMain() : this.#controller.visitRoom(r.roomId);
        act.catch((e: unknown) => this.#fail(e));
      });
      const names = (ids: string[]) => ids.map((id) => this.#names_.get(id) ?? "?").join(", ") || t("breakout.empty");
      return h(
        "li",
        { class: "breakout-room", "data-testid": "breakout-room", "data-room-id": r.roomId, "data-present": String(r.present.length) },
        h("strong", {}, r.name),
        h("span", { class: "muted" }, tn("breakout.presentCount", r.present.length)),
        h("span", { class: "breakout-present", "data-testid": "breakout-present" }, names(r.present)),
        go,
      );
    });
    const ends = s.breakout.endsAt;
    replaceChildren(
      this.#rooms,
      ends ? h("li", { class: "muted" }, t("breakout.closesAt", { time: new Date(ends).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) })) : null,
      ...rows,
    );
  }

  #renderBanner(s: MeetingSnapshot): void {
    const roomId = s.room;
    if (roomId === null) {
      this.banner.hidden = true;
      return;
    }
    const name = s.breakout.rooms.find((r) => r.roomId === roomId)?.name ?? roomId;
    const back = h("button", { type: "button", class: "button small", "data-testid": "breakout-banner-return" }, t("breakout.returnMain"));
    back.addEventListener("click", () => void this.#controller.returnToMain().catch((e: unknown) => this.#fail(e)));
    const ends = s.breakout.endsAt;
    replaceChildren(
      this.banner,
      icon(ICONS.door),
      h("span", { "data-testid": "breakout-room-name-banner" }, t("breakout.inRoom", { name })),
      ends ? h("span", { class: "muted" }, t("breakout.closesAt", { time: new Date(ends).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) })) : null,
      s.breakout.open ? null : h("span", { class: "muted" }, t("breakout.closing")),
      back,
    );
    this.banner.hidden = false;
  }

  async #sendBroadcast(): Promise<void> {
    const text = this.#broadcast.value.trim();
    if (!text) return;
    try {
      await this.#controller.broadcastToRooms(text);
      this.#broadcast.value = "";
      replaceChildren(this.#status, h("p", { class: "success" }, t("breakout.broadcastSent")));
    } catch (e) {
      this.#fail(e);
    }
  }

  #fail(e: unknown): void {
    const code = (e as { code?: unknown })?.code;
    replaceChildren(this.#status, errorBox(e instanceof UiError ? e : uiErrorFromCode(typeof code === "string" ? code : "INTERNAL")));
  }
}
