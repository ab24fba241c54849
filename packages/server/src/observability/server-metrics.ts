/**
 * The server's own metrics that more than one module updates, defined once so their help text
 * and labels cannot drift. A metric used by one module only may equally be declared in that
 * module with `metrics.counter({...})` (see metrics.ts).
 */
import { LATENCY_BUCKETS_SECONDS, type Metrics } from "./metrics.js";

/** Where a rate limit refused something (label `where`). */
export type RateLimitPlace = "http" | "signaling" | "join";

export function serverMetrics(metrics: Metrics) {
  return {
    rateLimitRefusals: metrics.counter<"where">({
      name: "conclave_rate_limit_refusals_total",
      help: "Requests, joins and signaling messages refused by a rate limit, by where the limit applies (http, join, signaling).",
      labelNames: ["where"],
    }),
    httpResponses: metrics.counter<"status">({
      name: "conclave_http_responses_total",
      help: "HTTP responses by status class (2xx, 3xx, 4xx, 5xx).",
      labelNames: ["status"],
    }),
    signalingErrors: metrics.counter<"code">({
      name: "conclave_signaling_errors_total",
      help: "Error messages sent to signaling clients, by error code (docs/protocol.md §8).",
      labelNames: ["code"],
    }),
    joins: metrics.counter<"result">({
      name: "conclave_joins_total",
      help: "Join requests by result: joined, waiting (waiting room or no host yet), or the refusal's error code.",
      labelNames: ["result"],
    }),
    commits: metrics.counter<"result">({
      name: "conclave_mls_commits_total",
      help: "MLS commits received by the delivery service, by result (accepted, rejected).",
      labelNames: ["result"],
    }),
    commitLatency: metrics.histogram({
      name: "conclave_mls_commit_latency_seconds",
      help: "Time from the delivery service asking for a commit to accepting one for that epoch.",
      buckets: LATENCY_BUCKETS_SECONDS,
    }),
    connectionsRefused: metrics.counter<"cap">({
      name: "conclave_connections_refused_total",
      help: "TCP connections closed at once because a connection cap was reached, by cap (total, per_address).",
      labelNames: ["cap"],
    }),
    memberRecoveries: metrics.counter<"reason">({
      name: "conclave_mls_member_recoveries_total",
      help: "Members that lost the MLS group and asked to be added again with a fresh key package, by message: groupFailure (the client's rejoin recovery after a commit or Welcome it could not process) or commitFailed (a failure report on a commit).",
      labelNames: ["reason"],
    }),
    rekeyAfterLeave: metrics.histogram({
      name: "conclave_mls_rekey_after_leave_seconds",
      help: "Time from a member leaving (or being removed) to the accepted commit that removes it from the group.",
      buckets: LATENCY_BUCKETS_SECONDS,
    }),
  };
}

export type ServerMetrics = ReturnType<typeof serverMetrics>;
