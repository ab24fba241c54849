/**
 * The HTTP request pipeline: a request id, security headers, routing, JSON responses, the error
 * table, then static files. Every failure becomes `{ error: { code, message } }`; an unexpected
 * exception is logged (without the request body) and answered 500 INTERNAL. Each request is
 * logged once when it completes (method, path without the query, status, duration, reqId).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { KMS_RETRY_AFTER_SECONDS } from "@conclave/kms";
import { ServerError, type ErrorBody } from "../errors.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { serverMetrics } from "../observability/server-metrics.js";
import { readJsonBody } from "./body.js";
import { RESPONDED, type JsonResponse, type RouteRequest, type Router } from "./router.js";
import { SECURITY_HEADERS } from "./security-headers.js";
import type { StaticFiles } from "./static-files.js";

export interface RequestHandlerOptions {
  readonly router: Router;
  readonly staticFiles?: StaticFiles;
  readonly bodyLimit: number;
  /** Where requests and unexpected failures are logged; a request body never is. */
  readonly logger: Logger;
  /** Counts HTTP responses by status and refused requests (conclave_http_*). */
  readonly metrics?: Metrics;
}

/** A client's X-Request-Id is kept when it looks like an id (a proxy in front set it). */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{8,64}$/;

export function createRequestHandler(options: RequestHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const counters = options.metrics ? serverMetrics(options.metrics) : undefined;
  return (req, res) => {
    const started = process.hrtime.bigint();
    const incoming = req.headers["x-request-id"];
    const requestId = typeof incoming === "string" && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
    const path = pathOnly(req.url);
    const log = options.logger.child({ reqId: requestId });
    res.setHeader("X-Request-Id", requestId);
    res.once("finish", () => {
      const status = res.statusCode;
      counters?.httpResponses.inc({ status: `${Math.floor(status / 100)}xx` });
      if (status === 429) counters?.rateLimitRefusals.inc({ where: "http" });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info("request", { method: req.method, path, status, ms: Math.round(ms * 10) / 10 });
    });
    handle(options, req, res, requestId, log).catch((e: unknown) => {
      log.error("request handling failed after the response started", e);
      res.destroy();
    });
  };
}

async function handle(options: RequestHandlerOptions, req: IncomingMessage, res: ServerResponse, requestId: string, log: Logger): Promise<void> {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  const method = req.method ?? "GET";
  const url = req.url ?? "/";
  const queryStart = url.indexOf("?");
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  try {
    if (!path.startsWith("/")) throw new ServerError("BAD_REQUEST", "the request target must be a path");
    const match = options.router.match(method, path);
    if (match.kind === "found") {
      let bodyRead = false;
      const request: RouteRequest = {
        method,
        path,
        params: match.params,
        query: new URLSearchParams(queryStart === -1 ? "" : url.slice(queryStart + 1)),
        headers: req.headers,
        remoteAddress: req.socket.remoteAddress ?? "unknown",
        requestId,
        log,
        json: () => {
          if (bodyRead) return Promise.reject(new Error("the request body was already read"));
          bodyRead = true;
          return readJsonBody(req, options.bodyLimit);
        },
        raw: req,
        response: res,
      };
      const result = await match.handler(request);
      if (result !== RESPONDED) sendJson(req, res, result);
      return;
    }
    if (match.kind === "method-not-allowed") {
      res.setHeader("Allow", match.allow.join(", "));
      throw new ServerError("METHOD_NOT_ALLOWED");
    }
    if (options.staticFiles !== undefined && (await options.staticFiles.serve(path, req, res))) return;
    // A person's browser asking for a page that does not exist gets the app's not-found page
    // (status 404); API clients keep getting the JSON error.
    if (options.staticFiles !== undefined && !path.startsWith("/api/") && wantsHtml(req) && (await options.staticFiles.serveNotFoundPage(req, res))) return;
    throw new ServerError("NOT_FOUND");
  } catch (e) {
    sendError(log, req, res, e);
  }
}

export function sendJson(req: IncomingMessage, res: ServerResponse, response: JsonResponse): void {
  res.statusCode = response.status ?? 200;
  if (res.statusCode === 204) {
    // No Content: no body and no Content-Type.
    res.setHeader("Cache-Control", "no-store");
    for (const [name, value] of Object.entries(response.headers ?? {})) res.setHeader(name, value);
    res.end();
    return;
  }
  const payload = Buffer.from(JSON.stringify(response.body), "utf8");
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Cache-Control", "no-store");
  res.setHeader("Content-Length", payload.length);
  for (const [name, value] of Object.entries(response.headers ?? {})) res.setHeader(name, value);
  res.end(req.method === "HEAD" ? undefined : payload);
}

function sendError(log: Logger, req: IncomingMessage, res: ServerResponse, e: unknown): void {
  const error = e instanceof ServerError ? e : new ServerError("INTERNAL", undefined, { cause: e });
  if (error.code === "INTERNAL" || error.code === "DATA_UNREADABLE" || error.code === "KMS_FAILED") log.error(`${req.method ?? "?"} ${pathOnly(req.url)} failed`, e);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // After a refused body the rest of it is still on the wire; close rather than read it.
  if (error.code === "BODY_TOO_LARGE") res.setHeader("Connection", "close");
  if (error.code === "KMS_UNAVAILABLE") res.setHeader("Retry-After", String(KMS_RETRY_AFTER_SECONDS));
  const body: ErrorBody = error.toBody();
  sendJson(req, res, { status: error.status, body });
}

/** A browser navigating (Accept lists text/html), as opposed to fetch() or an API client. */
function wantsHtml(req: IncomingMessage): boolean {
  return /\btext\/html\b/.test(req.headers.accept ?? "");
}

/** Paths may carry meeting IDs but never secrets; the query string is dropped to be safe. */
function pathOnly(url: string | undefined): string {
  return (url ?? "").split("?")[0]!.slice(0, 200);
}
