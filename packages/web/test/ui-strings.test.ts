// Every word the web app shows comes from the message catalogue (i18n/en.ts and its
// translations): the UI's source holds no English of its own. This reads the source of the UI
// modules and lists each string literal that reads like words for a person (two words, or one
// capitalised word) outside the places where strings are not shown: catalogue keys (t(...)),
// CSS classes, test ids, element and attribute names, selectors, comparisons, types.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

// dist/test/test/ui-strings.test.js → packages/web
const WEB = fileURLToPath(new URL("../../../", import.meta.url));
const SRC = join(WEB, "src");

/** The modules that build what a person sees (not the catalogue, not the crypto worker). */
function uiModules(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".ts")) out.push(p);
    }
  };
  walk(join(SRC, "ui"));
  out.push(join(SRC, "main.ts"), join(SRC, "meeting", "shield.ts"), join(SRC, "meeting", "notices.ts"), join(SRC, "meeting", "meeting-controller.ts"));
  return out.sort();
}

/** Calls whose string arguments are not shown to anyone (or are catalogue keys). */
const QUIET_CALLS = new Set([
  "t", "tn", "tParts", "hasMessage", "UiError", "uiErrorFromCode",
  "querySelector", "querySelectorAll", "closest", "matches", "getElementById", "createElement", "createElementNS",
  "getAttribute", "setAttribute", "removeAttribute", "toggleAttribute", "hasAttribute", "setProperty",
  "addEventListener", "removeEventListener", "on", "off", "emit", "add", "remove", "toggle", "contains",
  "getItem", "setItem", "removeItem", "replaceState", "pushState", "close", "postMessage", "getByTestId",
]);
/** Attributes and properties whose values a person reads. */
const SHOWN_PROPERTIES = new Set(["aria-label", "aria-description", "aria-valuetext", "aria-roledescription", "title", "placeholder", "label", "alt", "textContent", "innerText", "ariaLabel"]);
/** Attributes and options whose values are not shown (data-* and the other aria-* ones neither). */
const QUIET_PROPERTIES = new Set(["class", "className", "id", "type", "role", "for", "href", "src", "download", "autocomplete", "kind", "srclang", "name", "value", "rel", "target", "method", "inputmode", "spellcheck", "preload", "d", "viewBox", "testid", "code", "pattern", "accept", "lang", "dir"]);

function readsLikeWords(text: string): boolean {
  return /[A-Za-z]{2,}[,;:'’]? [A-Za-z]{2,}/.test(text) || /^\s*[A-Z][a-z]{2,}\b/.test(text);
}

/** A child of h(tag, attributes, ...children): text in the page, where even one word ("REC") is shown. */
function elementChild(node: ts.Node): boolean {
  const p = node.parent;
  if (ts.isConditionalExpression(p) || ts.isParenthesizedExpression(p)) return elementChild(p);
  return ts.isCallExpression(p) && ts.isIdentifier(p.expression) && p.expression.text === "h" && p.arguments.indexOf(node as ts.Expression) >= 2;
}

function quiet(node: ts.Node): boolean {
  const p = node.parent;
  if (!p) return false;
  if (ts.isImportDeclaration(p) || ts.isExportDeclaration(p) || ts.isExternalModuleReference(p)) return true;
  if (ts.isLiteralTypeNode(p)) return true;
  if (ts.isCaseClause(p)) return true;
  if (ts.isElementAccessExpression(p)) return true;
  if (ts.isBinaryExpression(p)) {
    const op = p.operatorToken.kind;
    if (op === ts.SyntaxKind.EqualsToken && p.right === node) {
      const target = p.left;
      const name = ts.isPropertyAccessExpression(target) ? target.name.text : ts.isIdentifier(target) ? target.text : "";
      return !(SHOWN_PROPERTIES.has(name) || name === "title");
    }
    return op !== ts.SyntaxKind.PlusToken && op !== ts.SyntaxKind.QuestionQuestionToken && op !== ts.SyntaxKind.BarBarToken;
  }
  if (ts.isPropertyAssignment(p)) {
    if (p.name === node) return true;
    const key = ts.isIdentifier(p.name) || ts.isStringLiteral(p.name) ? p.name.text : "";
    return QUIET_PROPERTIES.has(key) || /^data-/.test(key) || (/^aria-/.test(key) && !SHOWN_PROPERTIES.has(key));
  }
  if (ts.isCallExpression(p) || ts.isNewExpression(p)) {
    const callee = p.expression;
    const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : "";
    if (QUIET_CALLS.has(name)) return true;
    // h(tag, attributes, ...children): the tag is not shown.
    if (name === "h" && p.arguments?.[0] === node) return true;
    // Code and keys (h("code", {}, "conclave serve")) are the same in every language.
    const tag = name === "h" ? p.arguments?.[0] : undefined;
    if (tag && ts.isStringLiteral(tag) && (tag.text === "code" || tag.text === "kbd")) return true;
    // A thrown or rejected Error is for the developer; what a person sees is a UiError.
    if (name === "Error") return true;
  }
  // Inside a template or a conditional, the literal's context is its parent's.
  if (ts.isTemplateSpan(p) || ts.isConditionalExpression(p) || ts.isParenthesizedExpression(p)) return quiet(p);
  return false;
}

function findings(file: string): string[] {
  const src = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    let text: string | null = null;
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) text = node.text;
    else if (ts.isTemplateExpression(node)) text = [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(" ");
    if (text !== null && (readsLikeWords(text) || (elementChild(node) && /[A-Za-z]{2,}/.test(text))) && !quiet(node)) {
      const { line } = src.getLineAndCharacterOfPosition(node.getStart(src));
      out.push(`${relative(WEB, file)}:${line + 1}: ${JSON.stringify(text)}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return out;
}

test("the UI modules show no English of their own: every text a person reads is a catalogue message", () => {
  const files = uiModules();
  assert.ok(files.some((f) => f.endsWith("recordings-page.ts")) && files.length > 20, "the UI's source was found");
  assert.deepEqual(files.flatMap(findings), []);
});

test("the scan finds a hard-coded English text where a person would read it", () => {
  // The same checks on a small source held in memory.
  const check = (code: string): number => {
    const src = ts.createSourceFile("sample.ts", code, ts.ScriptTarget.Latest, true);
    let n = 0;
    const visit = (node: ts.Node): void => {
      if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node)) && !quiet(node)) {
        const text = ts.isTemplateExpression(node) ? node.head.text : node.text;
        if (readsLikeWords(text) || (elementChild(node) && /[A-Za-z]{2,}/.test(text))) n++;
      }
      ts.forEachChild(node, visit);
    };
    visit(src);
    return n;
  };
  assert.equal(check(`h("button", { class: "button small" }, "Call room system");`), 1);
  assert.equal(check(`h("input", { placeholder: "Boardroom", "data-testid": "x" });`), 1);
  assert.equal(check(`el.textContent = \`Calling \${name}…\`;`), 1);
  assert.equal(check(`h("span", { "aria-label": "Live captions" });`), 1);
  assert.equal(check(`x.textContent = ok ? "Stream ended." : "";`), 1);
  assert.equal(check(`confirmDialog({ title: "Delete this recording?", testid: "confirm" });`), 1);
  assert.equal(check(`h("span", { class: "badge" }, h("span", { class: "dot" }), "REC");`), 1);
  assert.equal(check(`const STATUS = { starting: "Starting", ready: "Ready" };`), 2);
  assert.equal(check(`h("button", { class: "button small danger" }, t("common.delete"));`), 0);
  assert.equal(check(`root.querySelectorAll(".tiles video"); if (e.key === "Enter") {}`), 0);
  assert.equal(check(`h("p", {}, ...tParts("start.tokenHelp", { command: h("code", {}, "conclave serve") }));`), 0);
});
