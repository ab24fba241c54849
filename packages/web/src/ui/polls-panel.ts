/**
 * The polls side panel. Hosts and co-hosts write and launch a poll (single or multiple choice,
 * anonymous or not), see the results live, end it and share the results. Everyone votes once;
 * votes are sealed to the poll's launcher (MeetingPolls), so no other member can read them.
 */
import type { PollView } from "@conclave/client";
import type { MeetingController, MeetingSnapshot } from "../meeting/meeting-controller.js";
import { t, tn } from "../i18n/i18n.js";
import { UiError, uiErrorFromCode } from "../errors.js";
import { errorBox } from "./common.js";
import { h, icon, replaceChildren, uid } from "./dom.js";
import { ICONS } from "./icons.js";

const MAX_OPTIONS = 10;

export class PollsPanel {
  readonly element: HTMLElement;
  readonly #controller: MeetingController;
  readonly #form: HTMLElement;
  readonly #question = h("input", { id: "poll-question", type: "text", maxlength: 300, "data-testid": "poll-question" });
  readonly #options = h("div", { class: "poll-option-inputs" });
  readonly #multiple = h("input", { type: "checkbox", id: "poll-multiple", "data-testid": "poll-multiple" });
  readonly #anonymous = h("input", { type: "checkbox", id: "poll-anonymous", "data-testid": "poll-anonymous" });
  readonly #list = h("div", { class: "poll-list", "data-testid": "poll-list" });
  readonly #status = h("div", { class: "form-status", "aria-live": "polite" });
  readonly #off = h("p", { class: "muted", "data-testid": "polls-off", hidden: true }, t("polls.off"));
  readonly #empty = h("p", { class: "muted" }, t("polls.none"));
  /** Choices ticked in polls not voted in yet (kept across re-renders). */
  readonly #ticked = new Map<string, Set<number>>();

  constructor(controller: MeetingController, onClose: () => void) {
    this.#controller = controller;
    const close = h("button", { type: "button", class: "icon-button", "aria-label": t("polls.close"), "data-testid": "polls-close" }, icon(ICONS.close));
    close.addEventListener("click", onClose);
    this.#addOption();
    this.#addOption();
    const add = h("button", { type: "button", class: "button small", "data-testid": "poll-add-option" }, t("polls.addOption"));
    add.addEventListener("click", () => this.#addOption());
    const launch = h("button", { type: "button", class: "button primary small", "data-testid": "poll-launch" }, t("polls.launch"));
    launch.addEventListener("click", () => void this.#launch());
    this.#form = h(
      "section",
      { class: "poll-form", "aria-labelledby": "poll-form-title", "data-testid": "poll-form", hidden: true },
      h("h3", { id: "poll-form-title" }, t("polls.new")),
      h("label", { class: "field-label", for: "poll-question" }, t("polls.question")),
      this.#question,
      h("span", { class: "field-label" }, t("polls.options")),
      this.#options,
      add,
      h("label", { class: "check", for: "poll-multiple" }, this.#multiple, h("span", {}, t("polls.multiple"))),
      h("label", { class: "check", for: "poll-anonymous" }, this.#anonymous, h("span", {}, t("polls.anonymous"))),
      h("p", { class: "help" }, t("polls.anonymousHelp")),
      launch,
    );
    this.element = h(
      "aside",
      { class: "sidebar polls-panel", id: "polls", "aria-labelledby": "polls-title", "data-testid": "polls-panel", hidden: true },
      h("div", { class: "sidebar-head" }, h("h2", { id: "polls-title" }, t("polls.title")), close),
      h("p", { class: "help" }, icon(ICONS.lock), t("polls.e2eeNote")),
      this.#off,
      this.#form,
      this.#status,
      this.#empty,
      this.#list,
    );
  }

  focus(): void {
    if (!this.#form.hidden) this.#question.focus();
  }

  render(s: MeetingSnapshot): void {
    const on = s.features.polling;
    const hosting = s.role !== "participant" && s.phase === "in-meeting";
    this.#off.hidden = on;
    this.#form.hidden = !on || !hosting;
    this.#empty.hidden = s.polls.length > 0 || !on;
    const focusKey = this.#list.contains(document.activeElement) ? document.activeElement?.getAttribute("data-focus-key") : null;
    replaceChildren(this.#list, ...[...s.polls].reverse().map((p) => this.#card(p)));
    if (focusKey) this.#list.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
  }

  #addOption(): void {
    if (this.#options.children.length >= MAX_OPTIONS) return;
    const n = this.#options.children.length + 1;
    const input = h("input", { type: "text", maxlength: 100, "data-testid": "poll-option-input", "aria-label": t("polls.optionLabel", { n }) });
    this.#options.append(input);
  }

  async #launch(): Promise<void> {
    const question = this.#question.value.trim();
    const options = [...this.#options.querySelectorAll("input")].map((i) => i.value.trim()).filter((v) => v.length > 0);
    if (!question || options.length < 2) {
      replaceChildren(this.#status, h("p", { class: "field-error" }, t("polls.needTwo")));
      return;
    }
    try {
      await this.#controller.launchPoll({ question, options, multiple: this.#multiple.checked, anonymous: this.#anonymous.checked });
      this.#question.value = "";
      replaceChildren(this.#options);
      this.#addOption();
      this.#addOption();
      this.#multiple.checked = false;
      this.#anonymous.checked = false;
      replaceChildren(this.#status);
    } catch (e) {
      this.#fail(e);
    }
  }

  #card(p: PollView): HTMLElement {
    const canVote = p.open && p.myChoices === null;
    const ticked = this.#ticked.get(p.pollId) ?? new Set<number>();
    this.#ticked.set(p.pollId, ticked);
    const name = uid("poll");
    const choices = p.options.map((option, i) => {
      const input = h("input", {
        type: p.multiple ? "checkbox" : "radio",
        name,
        value: String(i),
        "data-testid": "poll-choice",
        "data-option": String(i),
        "data-focus-key": `poll:${p.pollId}:${i}`,
        disabled: !canVote,
        checked: p.myChoices ? p.myChoices.includes(i) : ticked.has(i),
      });
      input.addEventListener("change", () => {
        if (!p.multiple) ticked.clear();
        if (input.checked) ticked.add(i);
        else ticked.delete(i);
      });
      return h("label", { class: "check poll-choice" }, input, h("span", {}, option));
    });
    const vote = h("button", { type: "button", class: "button primary small", "data-testid": "poll-vote", "data-focus-key": `vote:${p.pollId}`, hidden: !canVote }, t("polls.vote"));
    vote.addEventListener("click", () => {
      const picked = [...ticked].sort((a, b) => a - b);
      if (picked.length === 0) return;
      this.#controller.votePoll(p.pollId, picked).catch((e: unknown) => this.#fail(e));
    });
    const actions: HTMLElement[] = [];
    if (p.mine) {
      if (p.open) {
        const end = h("button", { type: "button", class: "button small", "data-testid": "poll-end", "data-focus-key": `end:${p.pollId}` }, t("polls.end"));
        end.addEventListener("click", () => void this.#controller.endPoll(p.pollId).catch((e: unknown) => this.#fail(e)));
        actions.push(end);
      }
      const share = h("button", { type: "button", class: "button small", "data-testid": "poll-share", "data-focus-key": `share:${p.pollId}` }, t("polls.share"));
      share.addEventListener("click", () => void this.#controller.sharePollResults(p.pollId).catch((e: unknown) => this.#fail(e)));
      actions.push(share);
    }
    const results = p.results;
    const total = results ? Math.max(1, results.voters) : 1;
    return h(
      "section",
      { class: "poll-card card", "data-testid": "poll-card", "data-poll-id": p.pollId, "data-open": String(p.open) },
      h("h3", { class: "poll-question", "data-testid": "poll-card-question" }, p.question),
      h(
        "p",
        { class: "muted" },
        p.multiple ? t("polls.kindMultiple") : t("polls.kindSingle"),
        " · ",
        p.anonymous ? t("polls.kindAnonymous") : t("polls.kindNamed"),
        " · ",
        p.open ? t("polls.open") : t("polls.closed"),
        p.mine ? "" : ` · ${t("polls.by", { name: p.launcherName })}`,
      ),
      h("div", { class: "poll-choices" }, ...choices),
      vote,
      p.myChoices !== null ? h("p", { class: "success", "data-testid": "poll-voted" }, t("polls.voted")) : null,
      results
        ? h(
            "div",
            { class: "poll-results", "data-testid": "poll-results", "data-voters": String(results.voters) },
            h("p", { class: "muted" }, tn("polls.voters", results.voters)),
            ...p.options.map((option, i) => {
              const count = results.counts[i] ?? 0;
              const bar = h("progress", { class: "poll-bar", max: total, value: count, "aria-hidden": "true" });
              return h(
                "div",
                { class: "poll-result", "data-testid": "poll-result", "data-option": String(i), "data-count": String(count) },
                h("span", { class: "poll-result-label" }, option),
                bar,
                h("span", { class: "poll-result-count" }, String(count)),
              );
            }),
            p.votes && p.votes.length > 0
              ? h("ul", { class: "poll-votes", "data-testid": "poll-votes" }, ...p.votes.map((v) => h("li", {}, `${v.displayName}: ${v.choices.map((c) => p.options[c]).join(", ")}`)))
              : null,
          )
        : null,
      actions.length > 0 ? h("div", { class: "row" }, ...actions) : null,
    );
  }

  #fail(e: unknown): void {
    const code = (e as { code?: unknown })?.code;
    replaceChildren(this.#status, errorBox(e instanceof UiError ? e : uiErrorFromCode(typeof code === "string" ? code : "INTERNAL")));
  }
}
