/** Logs and metrics: what the rest of the server takes by injection (see logger.ts, metrics.ts). */
export {
  createLogger,
  asLogger,
  memoryLogger,
  silentLogger,
  redact,
  isSecretFieldName,
  isLogLevel,
  LOG_LEVELS,
  DEFAULT_LOG_LEVEL,
  type Logger,
  type LogSink,
  type LogFields,
  type LogLevel,
  type MemoryLogger,
  type CreateLoggerOptions,
} from "./logger.js";
export { Metrics, LATENCY_BUCKETS_SECONDS, type MetricName, type CounterOptions, type GaugeOptions, type HistogramOptions } from "./metrics.js";
