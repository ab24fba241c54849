/**
 * Prometheus metrics (prom-client). One `Metrics` per running server holds its own registry
 * (several servers in one process — tests — never share counters), the default process metrics
 * (`process_*`, `nodejs_*`) and every `conclave_*` metric of our own. `GET /metrics` renders it.
 *
 * Adding a metric in any module: take the `Metrics` you were given (ServerContext.metrics, or an
 * option passed down like the logger) and ask it for the metric by name. The same name always
 * returns the same metric, so a module may declare its metrics where it uses them:
 *
 *   const rejoins = metrics.counter({
 *     name: "conclave_mls_rejoin_recoveries_total",
 *     help: "Members that could not follow the group and were added again with a fresh key package.",
 *   });
 *   rejoins.inc();
 *
 * Names start with `conclave_` (checked by the type and at run time), counters end in `_total`,
 * units are base units (`_seconds`, `_bytes`). Labels must have few values (an error code, a
 * kind) — never a meeting id, member id, address or anything a client chooses freely.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration } from "prom-client";

export type MetricName = `conclave_${string}`;

interface MetricConfig<L extends string> {
  name: MetricName;
  help: string;
  labelNames?: readonly L[];
}

export interface CounterOptions<L extends string> extends MetricConfig<L> {
  /** Called at each scrape before the value is read (for counts kept elsewhere). */
  collect?: CounterConfiguration<L>["collect"];
}

export interface GaugeOptions<L extends string> extends MetricConfig<L> {
  /** Called at each scrape to set the value (for values read from live state). */
  collect?: GaugeConfiguration<L>["collect"];
}

export interface HistogramOptions<L extends string> extends MetricConfig<L> {
  /** Upper bounds of the buckets, in the metric's unit; default LATENCY_BUCKETS_SECONDS. */
  buckets?: readonly number[];
}

/** Buckets for latencies in seconds, from 5 ms to 30 s (MLS commits at N=1000 take seconds). */
export const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

export class Metrics {
  readonly registry: Registry;

  /** `defaultMetrics: false` leaves out the process metrics (for unit tests of one metric). */
  constructor(options: { defaultMetrics?: boolean } = {}) {
    this.registry = new Registry();
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  counter<L extends string = never>(options: CounterOptions<L>): Counter<L> {
    return this.#getOrCreate(options.name, Counter, () => {
      const config: CounterConfiguration<L> = {
        name: checkName(options.name),
        help: options.help,
        labelNames: options.labelNames ?? [],
        registers: [this.registry],
      };
      if (options.collect) config.collect = options.collect;
      return new Counter<L>(config);
    });
  }

  gauge<L extends string = never>(options: GaugeOptions<L>): Gauge<L> {
    return this.#getOrCreate(options.name, Gauge, () => {
      const config: GaugeConfiguration<L> = {
        name: checkName(options.name),
        help: options.help,
        labelNames: options.labelNames ?? [],
        registers: [this.registry],
      };
      if (options.collect) config.collect = options.collect;
      return new Gauge<L>(config);
    });
  }

  histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
    return this.#getOrCreate(options.name, Histogram, () => {
      const config: HistogramConfiguration<L> = {
        name: checkName(options.name),
        help: options.help,
        labelNames: options.labelNames ?? [],
        buckets: [...(options.buckets ?? LATENCY_BUCKETS_SECONDS)],
        registers: [this.registry],
      };
      return new Histogram<L>(config);
    });
  }

  /** The Content-Type of `render()`'s output (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  #getOrCreate<M>(name: string, kind: abstract new (...args: never[]) => M, create: () => M): M {
    const existing = this.registry.getSingleMetric(name);
    if (existing === undefined) return create();
    if (!(existing instanceof kind)) {
      throw new Error(`metric ${name} already exists as another type`);
    }
    return existing;
  }
}

function checkName(name: string): string {
  if (!/^conclave_[a-z0-9_]+$/.test(name)) {
    throw new Error(`metric name ${name} must start with conclave_ and use only a-z, 0-9 and _`);
  }
  return name;
}
