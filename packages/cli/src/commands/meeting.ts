/**
 * `conclave meeting create`: ask a server for a new meeting and print the API's JSON answer
 * (id, url, passcode, encryption, postQuantum) on stdout.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { callApi } from "../api-client.js";
import { localServerFiles } from "../data-dir.js";
import { CliError } from "../errors.js";
import type { CliIo, Command } from "../io.js";
import { isLoopbackHost, resolveTrust, TRUST_HELP, TRUST_OPTIONS } from "../tls-trust.js";

export const MEETING_HELP = `Usage: conclave meeting create --server URL [options]

Create a meeting and print {id, url, passcode, encryption, postQuantum} as JSON.
The passcode travels in the join link's #fragment, which browsers never send to servers.

Options:
  --server URL          the Conclave server, e.g. https://localhost:8443 (or CONCLAVE_SERVER)
  --e2ee                end-to-end encrypted meeting (default)
  --enhanced            Enhanced encryption: server-side connectors may join, visibly
  --post-quantum        post-quantum key exchange: the MLS group uses the X-Wing hybrid
                        KEM (ML-KEM-768 + X25519); default: the server's settings
  --no-passcode         no passcode (anyone with the ID can ask to join)
  --token TOKEN         admin API token; prefer CONCLAVE_TOKEN (command lines are visible to
                        other users); on the server's machine it is read from <data>/admin-token
  --data DIR            a local server's data directory (CONCLAVE_DATA, default ./conclave-data)

${TRUST_HELP}`;

export const meetingCommand: Command = {
  summary: "create meetings on a server",
  async run(args: string[], io: CliIo): Promise<number> {
    const [action, ...rest] = args;
    if (action === undefined || action === "-h" || action === "--help" || action === "help") {
      io.out(MEETING_HELP);
      return action === undefined ? 2 : 0;
    }
    if (action !== "create") throw new CliError("USAGE", `unknown action "meeting ${action}"; see conclave meeting --help`);
    return createMeeting(rest, io);
  },
};

async function createMeeting(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      server: { type: "string" },
      e2ee: { type: "boolean" },
      enhanced: { type: "boolean" },
      "no-passcode": { type: "boolean" },
      "post-quantum": { type: "boolean" },
      token: { type: "string" },
      ...TRUST_OPTIONS,
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    io.out(MEETING_HELP);
    return 0;
  }
  if (values.e2ee && values.enhanced) throw new CliError("USAGE", "--e2ee and --enhanced cannot be combined");

  const server = parseServerUrl(values.server ?? io.env.CONCLAVE_SERVER);
  const local = localServerFiles(io.cwd, values.data ?? io.env.CONCLAVE_DATA);
  const trust = resolveTrust(server, values, local.certFile);
  if (trust.kind === "insecure") io.err("conclave: warning: --insecure: the server's identity is not checked");
  const token = resolveToken(values.token, io, server, local.adminToken);

  const body = {
    encryption: values.enhanced ? "enhanced" : "e2ee",
    passcode: !values["no-passcode"],
    ...(values["post-quantum"] ? { postQuantum: true } : {}),
  };
  const created = await callApi(server, trust, { method: "POST", path: "api/meetings", body, token });
  io.out(JSON.stringify(created, null, 2));
  return 0;
}

function parseServerUrl(value: string | undefined): URL {
  if (value === undefined || value === "") {
    throw new CliError("USAGE", "--server URL is required (e.g. --server https://localhost:8443)");
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError("USAGE", `--server is not a URL: ${value}`);
  }
  if (url.protocol !== "https:") throw new CliError("USAGE", "--server must be an https:// URL; Conclave only speaks TLS");
  if (url.username !== "" || url.password !== "") throw new CliError("USAGE", "--server must not contain credentials");
  return url;
}

/** --token, then CONCLAVE_TOKEN, then (for a server on this machine) <data>/admin-token. */
function resolveToken(flag: string | undefined, io: CliIo, server: URL, localTokenFile: string): string {
  if (flag !== undefined && flag !== "") return flag;
  const env = io.env.CONCLAVE_TOKEN;
  if (env !== undefined && env !== "") return env;
  if (isLoopbackHost(server.hostname)) {
    try {
      const token = readFileSync(localTokenFile, "utf8").trim();
      if (token !== "") return token;
    } catch {
      // fall through to the error below
    }
  }
  throw new CliError("NO_ADMIN_TOKEN");
}
