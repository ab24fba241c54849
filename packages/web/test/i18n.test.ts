// Every UI string comes from one message catalogue per language; these are the catalogue's rules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CATALOGUES, chooseLocale, placeholders, setLocale, t, tn, tParts } from "../src/i18n/i18n.js";
import { en } from "../src/i18n/en.js";

test("every language has every key, with a non-empty text and the same placeholders as English", () => {
  const keys = Object.keys(en);
  for (const [locale, catalogue] of Object.entries(CATALOGUES)) {
    assert.deepEqual(Object.keys(catalogue).sort(), [...keys].sort(), locale);
    for (const key of keys) {
      const text = (catalogue as Record<string, string>)[key]!;
      assert.ok(text.trim().length > 0, `${locale} ${key} is empty`);
      assert.deepEqual(placeholders(text), placeholders((en as Record<string, string>)[key]!), `${locale} ${key}`);
    }
  }
});

test("French is a translation, not a copy of English", () => {
  const keys = Object.keys(en) as (keyof typeof en)[];
  const same = keys.filter((k) => CATALOGUES.fr[k] === en[k]);
  // Names and symbols stay the same in both ("Conclave", "Admin", "{page} / {pages}"…): a handful.
  assert.ok(same.length < keys.length * 0.05, `${same.length} of ${keys.length} texts are identical: ${same.join(", ")}`);
});

test("the language follows the browser's preferences, falling back to English", () => {
  assert.equal(chooseLocale(["fr-CA", "en-US"]), "fr");
  assert.equal(chooseLocale(["de-DE", "FR"]), "fr");
  assert.equal(chooseLocale(["de-DE", "it"]), "en");
  assert.equal(chooseLocale([]), "en");
});

test("placeholders are filled, plurals chosen, and node placeholders split out", () => {
  setLocale("en");
  assert.equal(t("stage.you", { name: "Ada" }), "Ada (you)");
  assert.equal(tn("code.members", 1), "1 member");
  assert.equal(tn("code.members", 3), "3 members");
  const node = { tag: "code" };
  assert.deepEqual(tParts("start.tokenHelp", { command: node }), ["Printed by ", node, ". It acts with the owner's rights: keep it secret."]);
  setLocale("fr");
  assert.equal(t("stage.you", { name: "Ada" }), "Ada (vous)");
  assert.equal(tn("code.members", 0), "0 membre");
  setLocale("en");
});
