import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { PROTOCOL_ERRORS } from "@conclave/protocol";
import { SERVER_ERRORS, RELAY_ERRORS } from "@conclave/server";
import { CLIENT_ERRORS } from "@conclave/client";
import { MEDIA_ERRORS } from "@conclave/client/node";
import { CLI_ERRORS } from "@conclave/cli";
import { CONNECTOR_ERRORS } from "@conclave/connectors";
import { KMS_ERRORS } from "@conclave/kms";

const doc = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");

/** The codes listed in the table under the "### <heading…>" subsection of "## 8. Error codes". */
function documented(headingStart: string): string[] {
  const section = doc.slice(doc.indexOf("## 8. Error codes"));
  const start = section.indexOf(`### ${headingStart}`);
  assert.ok(start >= 0, `docs/protocol.md has no "### ${headingStart}" error table`);
  const rest = section.slice(start + 4);
  const end = rest.indexOf("\n### ");
  const body = end >= 0 ? rest.slice(0, end) : rest;
  return [...body.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);
}

const tables: [string, Record<string, unknown>][] = [
  ["Protocol", PROTOCOL_ERRORS],
  ["Server", SERVER_ERRORS],
  ["Relay", RELAY_ERRORS],
  ["Node media transport", MEDIA_ERRORS],
  ["Connectors", CONNECTOR_ERRORS],
  ["Client SDK", CLIENT_ERRORS],
  ["CLI", CLI_ERRORS],
  ["KMS", KMS_ERRORS],
];

for (const [name, table] of tables) {
  test(`docs/protocol.md lists exactly the ${name} error codes`, () => {
    assert.deepEqual([...documented(name)].sort(), Object.keys(table).sort());
  });
}
