/**
 * Every string the web app shows comes from one message catalogue per language (en.ts is the
 * source; fr.ts and any later language must have every key, which the type system and a unit test
 * check). The language is chosen once, from the browser's preferred languages, falling back to
 * English. Placeholders are written {name}; text stays text (never HTML).
 *
 * To add a language: copy en.ts to <code>.ts, translate the values (keep the {placeholders}), add
 * it to CATALOGUES below.
 */
import { en, type MessageKey } from "./en.js";
import { fr } from "./fr.js";

export type { MessageKey };
export type Params = Record<string, string | number>;

export const CATALOGUES = { en, fr } as const satisfies Record<string, Record<MessageKey, string>>;
export type Locale = keyof typeof CATALOGUES;
export const LOCALES = Object.keys(CATALOGUES) as Locale[];

let locale: Locale = "en";
let catalogue: Record<MessageKey, string> = en;

/** The first of the browser's preferred languages we have ("fr-CA" → fr), else English. */
export function chooseLocale(preferred: readonly string[]): Locale {
  for (const tag of preferred) {
    const base = tag.toLowerCase().split("-")[0] ?? "";
    if ((LOCALES as string[]).includes(base)) return base as Locale;
  }
  return "en";
}

export function setLocale(next: Locale): void {
  locale = next;
  catalogue = CATALOGUES[next];
}

export function currentLocale(): Locale {
  return locale;
}

/** The message for `key` in the current language, with {placeholders} filled in. */
export function t(key: MessageKey, params?: Params): string {
  const text = catalogue[key] ?? en[key];
  if (!params) return text;
  return text.replace(/\{([a-zA-Z0-9_]+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

/** Whether the catalogue has `key` (for text that comes from the server with a fallback). */
export function hasMessage(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(en, key);
}

/** Picks `key.one` or `key.other` by count (English and French agree on 1 vs more; 0 counts as other in English). */
export function tn(key: string, count: number, params: Params = {}): string {
  const form = count === 1 || (locale === "fr" && count === 0) ? "one" : "other";
  return t(`${key}.${form}` as MessageKey, { count, ...params });
}

/**
 * A message whose placeholders are nodes (a link, a code span): the text pieces and the nodes,
 * in order, for a DOM builder.
 */
export function tParts<N>(key: MessageKey, nodes: Record<string, N>, params?: Params): (string | N)[] {
  const text = t(key, params);
  const out: (string | N)[] = [];
  let last = 0;
  for (const m of text.matchAll(/\{([a-zA-Z0-9_]+)\}/g)) {
    const name = m[1]!;
    if (!(name in nodes)) continue;
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(nodes[name]!);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Placeholder names in a message (for the catalogue test). */
export function placeholders(text: string): string[] {
  return [...text.matchAll(/\{([a-zA-Z0-9_]+)\}/g)].map((m) => m[1]!).sort();
}
