/**
 * GET /metrics (Prometheus text format, admin API token only) and GET /readyz (ready to take
 * traffic: database answering, a certificate in place, not shutting down). /healthz stays the
 * liveness check: it answers as long as the process serves HTTP at all.
 */
import type { AdminToken } from "../auth/admin-token.js";
import { ServerError } from "../errors.js";
import type { Metrics } from "../observability/metrics.js";
import type { RateLimiter } from "./rate-limit.js";
import { RESPONDED, type RouteRequest, type Router } from "./router.js";

/** One readiness check: ok, or a short reason an operator can act on. */
export type ReadinessCheck = () => { ok: true } | { ok: false; reason: string };

export interface ObservabilityRouteDeps {
  readonly metrics: Metrics;
  readonly adminToken: AdminToken;
  /** Failed admin-token attempts per address (shared with the API: one budget for guessing). */
  readonly adminTokenFailures: RateLimiter;
  /** Named checks; /readyz is 200 when all pass, else 503 with the failing ones. */
  readonly readiness: Readonly<Record<string, ReadinessCheck>>;
}

export function registerObservabilityRoutes(router: Router, deps: ObservabilityRouteDeps): void {
  router.get("/metrics", (request) => serveMetrics(request, deps));
  router.get("/readyz", () => {
    const checks: Record<string, string> = {};
    let ready = true;
    for (const [name, check] of Object.entries(deps.readiness)) {
      let result: ReturnType<ReadinessCheck>;
      try {
        result = check();
      } catch {
        result = { ok: false, reason: "check failed" };
      }
      checks[name] = result.ok ? "ok" : result.reason;
      if (!result.ok) ready = false;
    }
    return { status: ready ? 200 : 503, body: { ready, checks } };
  });
}

/** Only `Authorization: Bearer <admin API token>`; wrong tokens count towards the address's limit. */
export async function serveMetrics(request: RouteRequest, deps: Pick<ObservabilityRouteDeps, "metrics" | "adminToken" | "adminTokenFailures">): Promise<typeof RESPONDED> {
  const client = request.remoteAddress;
  if (deps.adminTokenFailures.isLimited(client)) throw new ServerError("RATE_LIMITED", "failed admin token attempts from your address");
  if (!deps.adminToken.verifyAuthorization(request.headers.authorization)) {
    if (request.headers.authorization !== undefined) deps.adminTokenFailures.record(client);
    request.response.setHeader("WWW-Authenticate", 'Bearer realm="conclave metrics"');
    throw new ServerError("UNAUTHORIZED", "GET /metrics needs Authorization: Bearer <admin API token>");
  }
  const text = await deps.metrics.render();
  const res = request.response;
  res.statusCode = 200;
  res.setHeader("Content-Type", deps.metrics.contentType);
  res.setHeader("Cache-Control", "no-store");
  res.end(request.method === "HEAD" ? undefined : text);
  return RESPONDED;
}

/** A handler for the --metrics-listen server: /metrics only, everything else 404. */
export function metricsOnlyRouter(router: Router, deps: Pick<ObservabilityRouteDeps, "metrics" | "adminToken" | "adminTokenFailures">): Router {
  router.get("/metrics", (request) => serveMetrics(request, deps));
  return router;
}

