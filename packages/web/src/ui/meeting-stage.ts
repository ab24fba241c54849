/**
 * The tiles of the meeting: one per participant (yours, each remote one) and one per shared
 * screen, placed by ui/layout.ts in the area between the header and the control bar, so that
 * they never overlap and never slide under the controls, at any window size.
 *
 * - Gallery: equal tiles, paginated past what fits at a readable size.
 * - Stage: a main tile and a filmstrip. The main tile is, in order: whoever you pinned, a shared
 *   screen, whoever a host spotlights, or (in speaker view) whoever speaks.
 * - Who speaks comes from the level of each remote audio track measured here, after decryption
 *   and decoding (RTCInboundRtpStreamStats.audioLevel): the server learns nothing from it. The RTP
 *   audio-level header extension, which would tell the relay who speaks, is never negotiated.
 * - Mute and camera state come from each participant's end-to-end encrypted announcement: a
 *   muted microphone shows on the tile at once, a camera that is off shows initials.
 */
import type { MediaState } from "@conclave/client";
import type { MeetingController, MeetingSnapshot } from "../meeting/meeting-controller.js";
import type { LocalMedia } from "../media/local-media.js";
import type { RemoteTrack } from "../media/media-connection.js";
import { t } from "../i18n/i18n.js";
import { createPanel } from "./dialog.js";
import { h, icon, initials, replaceChildren } from "./dom.js";
import { ICONS } from "./icons.js";
import { galleryLayout, stageLayout, type Rect } from "./layout.js";

const SPEAKING_LEVEL = 0.02;
const LEVEL_POLL_MS = 300;
/** The main speaker changes only after it has been quiet this long (no flicker between two voices). */
const SPEAKER_HOLD_MS = 1500;
const PAGER_HEIGHT = 44;
/** How long a reaction stays on the sender's tile. */
const REACTION_MS = 4000;

export type ViewMode = "gallery" | "speaker";

interface Tile {
  id: string;
  kind: "self" | "remote" | "screen";
  el: HTMLElement;
  video: HTMLVideoElement;
  audio: HTMLAudioElement | null;
  name: HTMLElement;
  mic: HTMLElement;
  /** Shown while this participant's hand is raised. */
  hand: HTMLElement;
  avatar: HTMLElement;
  menuButton: HTMLButtonElement | null;
  videoTrack: MediaStreamTrack | null;
  audioTrack: MediaStreamTrack | null;
  label: string;
}

export interface MeetingStageOptions {
  controller: MeetingController;
  media: LocalMedia;
  displayName: string;
  toast: (text: string) => void;
}

export class MeetingStage {
  /** The element that holds the tiles; its size is the layout area. */
  readonly grid = h("div", { class: "grid", role: "list", "aria-label": t("stage.label") });
  readonly pager: HTMLElement;
  readonly #opts: MeetingStageOptions;
  readonly #tiles = new Map<string, Tile>();
  readonly #self: Tile;
  readonly #pageLabel = h("span", { class: "page-label", "aria-live": "polite" });
  readonly #prev: HTMLButtonElement;
  readonly #next: HTMLButtonElement;
  #snapshot: MeetingSnapshot | null = null;
  #mode: ViewMode = "gallery";
  #page = 0;
  #pinned: string | null = null;
  #speaker: string | null = null;
  readonly #lastSound = new Map<string, number>();
  #speakerId: string | null = null;
  #sinkId: string | null = null;
  #levelTimer: ReturnType<typeof setInterval> | null = null;
  #observer: ResizeObserver | null = null;
  #frame = 0;
  #hands: ReadonlySet<string> = new Set();

  constructor(opts: MeetingStageOptions) {
    this.#opts = opts;
    this.#self = this.#createTile("self", "self", opts.displayName);
    this.#self.video.classList.add("mirror");
    this.#self.video.srcObject = opts.media.stream;
    this.#prev = h("button", { type: "button", class: "icon-button", "data-testid": "page-prev", "aria-label": t("stage.previousPage") }, icon(ICONS.chevronLeft));
    this.#next = h("button", { type: "button", class: "icon-button", "data-testid": "page-next", "aria-label": t("stage.nextPage") }, icon(ICONS.chevronRight));
    this.#prev.addEventListener("click", () => this.#turn(-1));
    this.#next.addEventListener("click", () => this.#turn(1));
    this.pager = h("nav", { class: "pager", "aria-label": t("stage.pages"), "data-testid": "pager", hidden: true }, this.#prev, this.#pageLabel, this.#next);
    // Laid out at once when the area changes size (before the next paint), so a resized window
    // never shows tiles placed for the old size.
    this.#observer = new ResizeObserver(() => this.#layout());
    this.#observer.observe(this.grid);
    this.#levelTimer = setInterval(() => void this.#pollAudioLevels(), LEVEL_POLL_MS);
  }

  get mode(): ViewMode {
    return this.#mode;
  }

  set mode(mode: ViewMode) {
    this.#mode = mode;
    this.#page = 0;
    this.grid.setAttribute("data-layout", mode);
    this.#schedule();
  }

  get pinned(): string | null {
    return this.#pinned;
  }

  /** Pins a participant (or a screen, "screen:<id>") to the main tile for this person only. */
  pin(id: string | null): void {
    this.#pinned = id;
    this.#page = 0;
    this.#schedule();
  }

  /** The speaker (audio output) every remote participant plays on, where the browser can choose. */
  async setSpeaker(deviceId: string): Promise<boolean> {
    this.#sinkId = deviceId;
    const results = await Promise.all([...this.#tiles.values()].map((tile) => this.#applySink(tile)));
    return results.every(Boolean);
  }

  get speakerId(): string | null {
    return this.#sinkId;
  }

  /** Shows a reaction on the sender's tile (null: this participant's own) for a few seconds. */
  showReaction(memberId: string | null, emoji: string): void {
    const tile = memberId === null ? this.#self : this.#tiles.get(memberId);
    if (!tile) return;
    const badge = h("span", { class: "tile-reaction", "data-testid": "tile-reaction", "data-emoji": emoji, role: "img", "aria-label": t("stage.reacted", { name: tile.label, emoji }) }, emoji);
    tile.el.append(badge);
    setTimeout(() => badge.remove(), REACTION_MS);
  }

  /** Whose hands are raised (member ids; this participant's own included). */
  setHands(raised: ReadonlySet<string>): void {
    this.#hands = raised;
    this.#applyHands();
  }

  #applyHands(): void {
    const selfId = this.#snapshot?.selfId ?? null;
    for (const tile of [this.#self, ...this.#tiles.values()]) {
      if (tile.kind === "screen") continue;
      const up = tile.kind === "self" ? selfId !== null && this.#hands.has(selfId) : this.#hands.has(tile.id);
      tile.hand.hidden = !up;
      tile.el.toggleAttribute("data-hand-raised", up);
    }
  }

  close(): void {
    if (this.#levelTimer) clearInterval(this.#levelTimer);
    this.#levelTimer = null;
    this.#observer?.disconnect();
    cancelAnimationFrame(this.#frame);
    for (const tile of this.#tiles.values()) {
      tile.video.srcObject = null;
      if (tile.audio) tile.audio.srcObject = null;
    }
  }

  render(s: MeetingSnapshot): void {
    this.#snapshot = s;
    this.#syncRemoteTiles(s);
    this.#syncScreenTiles(s);
    this.#renderSelf();
    this.#applyHands();
    this.#layout();
  }

  /** Your own tile follows your microphone and camera switches. */
  #renderSelf(): void {
    const m = this.#opts.media;
    const tile = this.#self;
    setMuted(tile, !m.micOn);
    tile.el.classList.toggle("no-video", !m.camOn);
    if (tile.video.srcObject !== m.stream) tile.video.srcObject = m.stream;
  }

  #syncRemoteTiles(s: MeetingSnapshot): void {
    const names = memberNames(s);
    const ids = new Set<string>();
    for (const p of s.presence) if (p.memberId !== s.selfId && p.inGroup) ids.add(p.memberId);
    const byOwner = new Map<string, RemoteTrack[]>();
    for (const tr of s.remoteTracks) {
      if (tr.ownerId === s.selfId) continue;
      ids.add(tr.ownerId);
      byOwner.set(tr.ownerId, [...(byOwner.get(tr.ownerId) ?? []), tr]);
    }
    for (const [id, tile] of this.#tiles) {
      if (tile.kind !== "remote" || ids.has(id)) continue;
      this.#removeTile(tile);
    }
    for (const id of ids) {
      const name = names.get(id) ?? t("stage.participant");
      const tile = this.#tiles.get(id) ?? this.#createTile(id, "remote", name);
      if (tile.label !== name) this.#rename(tile, name);
      const tracks = byOwner.get(id) ?? [];
      const video = tracks.find((tr) => tr.kind === "video" && tr.source === "camera")?.track ?? null;
      const audio = tracks.find((tr) => tr.kind === "audio")?.track ?? null;
      if (tile.videoTrack !== video) {
        tile.videoTrack = video;
        tile.video.srcObject = video ? new MediaStream([video]) : null;
      }
      if (tile.audioTrack !== audio && tile.audio) {
        tile.audioTrack = audio;
        tile.audio.srcObject = audio ? new MediaStream([audio]) : null;
        void this.#applySink(tile);
      }
      const state: MediaState | undefined = s.remoteMedia.get(id);
      setMuted(tile, state?.mic === false);
      // No camera track, or the camera announced off: initials instead of a black frame.
      tile.el.classList.toggle("no-video", video === null || state?.camera === false);
      tile.el.toggleAttribute("data-spotlight", s.spotlight.includes(id));
    }
  }

  #syncScreenTiles(s: MeetingSnapshot): void {
    const names = memberNames(s);
    const screens = new Map(s.remoteTracks.filter((tr) => tr.source === "screen" && tr.kind === "video" && tr.ownerId !== s.selfId).map((tr) => [`screen:${tr.ownerId}`, tr]));
    for (const [id, tile] of this.#tiles) {
      if (tile.kind !== "screen") continue;
      const tr = screens.get(id);
      if (!tr || tr.track !== tile.videoTrack) this.#removeTile(tile);
    }
    for (const [id, tr] of screens) {
      if (this.#tiles.has(id)) continue;
      const name = names.get(tr.ownerId) ?? t("stage.participant");
      const tile = this.#createTile(id, "screen", name);
      tile.videoTrack = tr.track;
      tile.video.srcObject = new MediaStream([tr.track]);
      this.#opts.toast(t("stage.sharing", { name }));
    }
  }

  #createTile(id: string, kind: Tile["kind"], name: string): Tile {
    const video = h("video", { autoplay: true, playsinline: true, muted: true, "aria-hidden": "true" });
    video.muted = true;
    const mic = h("span", { class: "tile-mic", role: "img", "aria-label": t("stage.muted"), title: t("stage.muted"), hidden: true }, icon(ICONS.micOff));
    const nameEl = h("span", { class: "tile-name" });
    const avatar = h("div", { class: "avatar" });
    const hand = h("span", { class: "tile-hand", "data-testid": "tile-hand", role: "img", "aria-label": t("stage.handRaised"), hidden: true }, icon(ICONS.hand));
    const audio = kind === "remote" ? h("audio", { autoplay: true }) : null;
    const testid = kind === "self" ? "self-tile" : kind === "screen" ? "screen-tile" : "video-tile";
    const el = h(
      "div",
      { class: `tile ${kind}${kind === "remote" ? " no-video" : ""}`, role: "listitem", "data-testid": testid, ...(kind !== "self" ? { "data-member-id": kind === "screen" ? id.slice(7) : id } : {}) },
      video,
      avatar,
      h("div", { class: "tile-label" }, kind === "screen" ? icon(ICONS.screen) : mic, nameEl),
      hand,
      audio,
    );
    let menuButton: HTMLButtonElement | null = null;
    if (kind !== "self") {
      menuButton = h("button", { type: "button", class: "tile-menu-button", "aria-haspopup": "dialog", "data-testid": "tile-menu-button" }, icon(ICONS.more));
      menuButton.addEventListener("click", () => this.#openTileMenu(tile));
      el.append(menuButton);
    }
    const tile: Tile = { id, kind, el, video, audio, name: nameEl, mic, hand, avatar, menuButton, videoTrack: null, audioTrack: null, label: "" };
    this.#rename(tile, name);
    this.grid.append(el);
    this.#tiles.set(id, tile);
    return tile;
  }

  #rename(tile: Tile, name: string): void {
    tile.label = name;
    const shown = tile.kind === "self" ? t("stage.you", { name }) : tile.kind === "screen" ? t("stage.screenOf", { name }) : name;
    tile.name.textContent = shown;
    tile.avatar.textContent = initials(name);
    tile.el.setAttribute("aria-label", shown);
    if (tile.kind !== "self") tile.el.setAttribute("data-participant-name", name);
    tile.menuButton?.setAttribute("aria-label", t("stage.optionsFor", { name: shown }));
  }

  #removeTile(tile: Tile): void {
    tile.video.srcObject = null;
    if (tile.audio) tile.audio.srcObject = null;
    tile.el.remove();
    this.#tiles.delete(tile.id);
    if (this.#pinned === tile.id) this.#pinned = null;
  }

  async #applySink(tile: Tile): Promise<boolean> {
    const audio = tile.audio as (HTMLAudioElement & { setSinkId?: (id: string) => Promise<void> }) | null;
    if (!audio || this.#sinkId === null || typeof audio.setSinkId !== "function") return this.#sinkId === null || !audio;
    try {
      await audio.setSinkId(this.#sinkId);
      return true;
    } catch {
      return false;
    }
  }

  /** Pin for yourself; hosts also spotlight for everyone, and ask to unmute or mute. */
  #openTileMenu(tile: Tile): void {
    const s = this.#snapshot;
    const memberId = tile.kind === "screen" ? tile.id.slice(7) : tile.id;
    const panel = createPanel({ title: tile.name.textContent ?? "", testid: "tile-menu" });
    panel.dialog.setAttribute("data-meeting-dialog", "");
    const pinned = this.#pinned === tile.id;
    const pin = h("button", { type: "button", class: "button", "data-testid": "pin-button" }, icon(ICONS.pin), pinned ? t("stage.unpin") : t("stage.pin"));
    pin.addEventListener("click", () => {
      this.pin(pinned ? null : tile.id);
      panel.close();
    });
    const actions: HTMLElement[] = [pin];
    const hosting = s !== null && s.role !== "participant" && s.phase === "in-meeting";
    if (hosting && tile.kind === "remote") {
      const spotlit = s.spotlight.includes(memberId);
      const spot = h("button", { type: "button", class: "button", "data-testid": "spotlight-button" }, icon(ICONS.spotlight), spotlit ? t("stage.endSpotlight") : t("stage.spotlight"));
      spot.addEventListener("click", () => {
        this.#opts.controller.setSpotlight(spotlit ? [] : [memberId]);
        panel.close();
      });
      actions.push(spot);
      const muted = s.remoteMedia.get(memberId)?.mic === false;
      const ask = h("button", { type: "button", class: "button", "data-testid": muted ? "ask-unmute" : "mute-participant" }, icon(muted ? ICONS.mic : ICONS.micOff), muted ? t("stage.askUnmute") : t("stage.muteParticipant"));
      ask.addEventListener("click", () => {
        this.#opts.controller.requestMute(memberId, muted ? "askUnmute" : "mute");
        this.#opts.toast(muted ? t("stage.askedUnmute", { name: tile.label }) : t("stage.mutedParticipant", { name: tile.label }));
        panel.close();
      });
      actions.push(ask);
    }
    replaceChildren(panel.body, h("div", { class: "menu-actions" }, ...actions), hosting && tile.kind === "remote" ? h("p", { class: "help" }, t("stage.hostNote")) : null);
    document.body.append(panel.dialog);
    panel.dialog.addEventListener("close", () => panel.dialog.remove());
    panel.open(tile.menuButton, pin);
  }

  #turn(delta: number): void {
    this.#page = Math.max(0, this.#page + delta);
    this.#layout();
  }

  #schedule(): void {
    cancelAnimationFrame(this.#frame);
    this.#frame = requestAnimationFrame(() => this.#layout());
  }

  /** Which tile is the main one (null: gallery). */
  #mainTile(ordered: Tile[]): Tile | null {
    const s = this.#snapshot;
    const find = (id: string | null | undefined): Tile | null => (id ? (ordered.find((tile) => tile.id === id) ?? null) : null);
    const pinned = find(this.#pinned);
    if (pinned) return pinned;
    const screen = ordered.find((tile) => tile.kind === "screen");
    if (screen) return screen;
    for (const id of s?.spotlight ?? []) {
      const spot = id === s?.selfId ? this.#self : find(id);
      if (spot) return spot;
    }
    if (this.#mode !== "speaker") return null;
    const remotes = ordered.filter((tile) => tile.kind === "remote");
    return find(this.#speaker) ?? remotes[0] ?? null;
  }

  #layout(): void {
    const area = { width: this.grid.clientWidth, height: this.grid.clientHeight };
    if (area.width <= 0 || area.height <= 0) return;
    // Screens first, then you, then everyone else in the order they came.
    const all = [...this.#tiles.values()];
    const ordered = [...all.filter((tile) => tile.kind === "screen"), this.#self, ...all.filter((tile) => tile.kind === "remote")];
    const main = this.#mainTile(ordered);
    const rest = main ? ordered.filter((tile) => tile !== main) : ordered;
    const narrow = area.width < 600;
    const opts = { gap: narrow ? 6 : 10, minTileWidth: narrow ? 150 : 220 };
    const compute = (height: number) =>
      main ? stageLayout({ width: area.width, height }, rest.length, this.#page, opts) : galleryLayout({ width: area.width, height }, rest.length, this.#page, opts);
    let layout = compute(area.height);
    if (layout.pages > 1) layout = compute(area.height - PAGER_HEIGHT);
    this.#page = layout.page;
    const rects = layout.kind === "stage" ? layout.strip : layout.tiles;
    const first = layout.page * layout.perPage;
    const shown = new Map<Tile, Rect>();
    if (main && layout.kind === "stage") shown.set(main, layout.main);
    rest.slice(first, first + rects.length).forEach((tile, i) => shown.set(tile, rects[i]!));
    for (const tile of ordered) {
      const rect = shown.get(tile);
      tile.el.hidden = rect === undefined;
      tile.el.classList.toggle("main", tile === main);
      tile.el.toggleAttribute("data-pinned", tile.id === this.#pinned);
      if (!rect) continue;
      const st = tile.el.style;
      st.setProperty("left", `${rect.x}px`);
      st.setProperty("top", `${rect.y}px`);
      st.setProperty("width", `${rect.width}px`);
      st.setProperty("height", `${rect.height}px`);
    }
    this.grid.setAttribute("data-layout", main ? "stage" : "gallery");
    this.grid.setAttribute("data-area", `${area.width}x${area.height}`);
    this.grid.setAttribute("data-tiles", String(ordered.length));
    this.pager.hidden = layout.pages <= 1;
    this.#pageLabel.textContent = t("stage.pageOf", { page: layout.page + 1, pages: layout.pages });
    this.#prev.disabled = layout.page === 0;
    this.#next.disabled = layout.page >= layout.pages - 1;
  }

  /** Speaking indicators and the active speaker, from decoded audio levels (never from the server). */
  async #pollAudioLevels(): Promise<void> {
    const pc = this.#opts.controller.subscribePeerConnection;
    const s = this.#snapshot;
    if (!pc || !s) return;
    let report: RTCStatsReport;
    try {
      report = await pc.getStats();
    } catch {
      return;
    }
    const levelByMid = new Map<string, number>();
    report.forEach((stat: { type?: string; kind?: string; mid?: string; audioLevel?: number }) => {
      if (stat.type === "inbound-rtp" && stat.kind === "audio" && stat.mid !== undefined) levelByMid.set(stat.mid, stat.audioLevel ?? 0);
    });
    const now = Date.now();
    let loudest: { id: string; level: number } | null = null;
    for (const tr of s.remoteTracks) {
      if (tr.kind !== "audio") continue;
      const tile = this.#tiles.get(tr.ownerId);
      const level = levelByMid.get(tr.mid);
      if (!tile || level === undefined) continue;
      const speaking = level > SPEAKING_LEVEL && s.remoteMedia.get(tr.ownerId)?.mic !== false;
      if (speaking) {
        this.#lastSound.set(tr.ownerId, now);
        if (!loudest || level > loudest.level) loudest = { id: tr.ownerId, level };
      }
      tile.el.classList.toggle("speaking", speaking);
    }
    const current = this.#speaker;
    const quiet = current === null || now - (this.#lastSound.get(current) ?? 0) > SPEAKER_HOLD_MS;
    if (loudest && loudest.id !== current && quiet) {
      this.#speaker = loudest.id;
      if (this.#mode === "speaker") this.#schedule();
    }
    if (this.#speakerId !== this.#speaker) {
      this.#speakerId = this.#speaker;
      this.grid.setAttribute("data-speaker", this.#speaker ?? "");
    }
  }
}

function setMuted(tile: Tile, muted: boolean): void {
  tile.mic.hidden = !muted;
  tile.el.toggleAttribute("data-muted", muted);
}

function memberNames(s: MeetingSnapshot): Map<string, string> {
  const names = new Map<string, string>();
  for (const p of s.presence) names.set(p.memberId, p.displayName);
  // The group's own credentials win over what the server reports.
  for (const m of s.members) names.set(m.memberId, m.displayName);
  return names;
}
