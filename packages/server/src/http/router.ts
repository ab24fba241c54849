/**
 * A small router: method + path pattern ("/api/meetings/:id") to a handler that returns JSON.
 * Enough for an API of a few routes; no framework.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../observability/logger.js";

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS";

export interface RouteRequest {
  readonly method: string;
  /** The path as sent, without the query string and not percent-decoded. */
  readonly path: string;
  /** Values of `:name` segments, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The peer's IP address as seen on the socket. */
  readonly remoteAddress: string;
  /** This request's id: in the X-Request-Id response header and on every line `log` writes. */
  readonly requestId: string;
  /** The server's logger bound to this request (`reqId`, method, path). */
  readonly log: Logger;
  /** Read the JSON body once (size-limited); undefined when there is no body. */
  json(): Promise<unknown>;
  readonly raw: IncomingMessage;
  readonly response: ServerResponse;
}

export interface JsonResponse {
  /** Default 200. */
  readonly status?: number;
  readonly body: unknown;
  /** Extra headers; an array gives a header several times (Set-Cookie). */
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
}

/** Returned by a handler that wrote to `request.response` itself (streams, redirects). */
export const RESPONDED: unique symbol = Symbol("conclave.http.responded");

export type RouteHandler = (
  request: RouteRequest,
) => JsonResponse | typeof RESPONDED | Promise<JsonResponse | typeof RESPONDED>;

export type RouteMatch =
  | { readonly kind: "found"; readonly handler: RouteHandler; readonly params: Record<string, string> }
  | { readonly kind: "method-not-allowed"; readonly allow: readonly string[] }
  | { readonly kind: "none" };

interface Route {
  readonly method: HttpMethod;
  readonly pattern: string;
  readonly segments: readonly string[];
  readonly handler: RouteHandler;
}

function splitPath(path: string): string[] {
  return path.split("/").slice(1);
}

export class Router {
  readonly #routes: Route[] = [];

  /** Register a route. A pattern is `/`-separated; `:name` matches one non-empty segment. */
  add(method: HttpMethod, pattern: string, handler: RouteHandler): this {
    if (!pattern.startsWith("/")) throw new TypeError(`route pattern must start with "/": ${pattern}`);
    if (this.#routes.some((r) => r.method === method && r.pattern === pattern)) {
      throw new TypeError(`route already registered: ${method} ${pattern}`);
    }
    this.#routes.push({ method, pattern, segments: splitPath(pattern), handler });
    return this;
  }

  get(pattern: string, handler: RouteHandler): this {
    return this.add("GET", pattern, handler);
  }

  post(pattern: string, handler: RouteHandler): this {
    return this.add("POST", pattern, handler);
  }

  /** Every registered route, in registration order (for the OpenAPI check). */
  routes(): { method: HttpMethod; pattern: string }[] {
    return this.#routes.map((r) => ({ method: r.method, pattern: r.pattern }));
  }

  /** HEAD is answered by the GET route (the body is dropped by the caller). */
  match(method: string, path: string): RouteMatch {
    const wanted = method === "HEAD" ? "GET" : method;
    const segments = splitPath(path);
    const allow = new Set<string>();
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, segments);
      if (params === undefined) continue;
      if (route.method === wanted) return { kind: "found", handler: route.handler, params };
      allow.add(route.method);
      if (route.method === "GET") allow.add("HEAD");
    }
    return allow.size > 0 ? { kind: "method-not-allowed", allow: [...allow].sort() } : { kind: "none" };
  }
}

function matchSegments(pattern: readonly string[], actual: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const a = actual[i]!;
    if (p.startsWith(":")) {
      if (a === "") return undefined;
      let decoded: string;
      try {
        decoded = decodeURIComponent(a);
      } catch {
        return undefined;
      }
      params[p.slice(1)] = decoded;
    } else if (p !== a) {
      return undefined;
    }
  }
  return params;
}
