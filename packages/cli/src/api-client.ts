/**
 * JSON over HTTPS to a Conclave server's API, through a connection trusted by tls-trust.
 * Error responses `{ error: { code, message } }` become CliError API_ERROR with the server's
 * code and message (which the server guarantees carry no secrets).
 */
import { request } from "node:https";
import { CliError } from "./errors.js";
import { trustedConnectionFactory, type Trust } from "./tls-trust.js";

export interface ApiRequest {
  readonly method: "GET" | "POST";
  /** Path relative to the server URL, e.g. "api/meetings". */
  readonly path: string;
  readonly body?: unknown;
  /** Admin API token, sent as a Bearer credential. */
  readonly token?: string;
  readonly timeoutMs?: number;
}

/** An API error as the server reported it. */
export interface ApiErrorInfo {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export class ApiError extends CliError {
  readonly api: ApiErrorInfo;
  constructor(api: ApiErrorInfo) {
    super("API_ERROR", `${api.status} ${api.code}: ${api.message}`);
    this.api = api;
  }
}

/** Resolves with the parsed JSON of a 2xx answer; rejects with CliError otherwise. */
export function callApi(server: URL, trust: Trust, req: ApiRequest): Promise<unknown> {
  const url = new URL(req.path, server.href.endsWith("/") ? server : new URL(`${server.href}/`));
  const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body), "utf8");
  const headers: Record<string, string> = { accept: "application/json" };
  if (payload !== undefined) {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(payload.length);
  }
  if (req.token !== undefined) headers.authorization = `Bearer ${req.token}`;

  return new Promise((resolve, reject) => {
    const r = request(
      {
        protocol: "https:",
        hostname: url.hostname.replace(/^\[|\]$/g, ""),
        port: url.port === "" ? 443 : Number(url.port),
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers,
        createConnection: trustedConnectionFactory(trust),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (e) => reject(new CliError("SERVER_UNREACHABLE", e.message, { cause: e })));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = text === "" ? undefined : JSON.parse(text);
          } catch {
            reject(new CliError("BAD_RESPONSE", `HTTP ${status} with a body that is not JSON`));
            return;
          }
          if (status >= 200 && status < 300) {
            resolve(json);
            return;
          }
          const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
          if (typeof error?.code === "string" && typeof error.message === "string") {
            reject(new ApiError({ status, code: error.code, message: error.message }));
          } else {
            reject(new CliError("BAD_RESPONSE", `HTTP ${status}`));
          }
        });
      },
    );
    r.setTimeout(req.timeoutMs ?? 15_000, () => r.destroy(new CliError("SERVER_TIMEOUT")));
    r.on("error", (e) => reject(e instanceof CliError ? e : new CliError("SERVER_UNREACHABLE", e.message, { cause: e })));
    r.end(payload);
  });
}
