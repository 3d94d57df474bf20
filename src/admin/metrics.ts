/**
 * GET /metrics (docs/reference/admin-api.md) through prom-client. Every series is read at scrape time from the
 * counters the data path keeps anyway (collect callbacks), so serving traffic never calls
 * prom-client. Labels are bounded: listener, pool and member names (`ADDRESS:PORT`), status codes
 * and fixed words; never a client address or a cookie value.
 */
import { collectDefaultMetrics, type Metric, Registry } from "prom-client";
import { registerDeclaredSeries } from "../store/prometheus-series.js";
import { StateStoreMetrics } from "../store/store-metrics.js";
import type { AdminSource } from "./admin-source.js";
import { replaceEventLoopDelayGauges } from "./event-loop-metrics.js";
import { declareListenerSeries } from "./listener-metrics.js";
import { listenerViews } from "./listener-view.js";
import { declareMemberSeries } from "./member-metrics.js";
import { seriesOn } from "./metric-series.js";
import { declarePoolSeries } from "./pool-metrics.js";
import { declareProcessSeries } from "./process-metrics.js";
import { requestDurationMetric } from "./request-duration-metric.js";

/** A registry whose series are rebuilt from `source` on every scrape. */
export function createMetricsRegistry(source: AdminSource, version: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "stickylb_" });
  replaceEventLoopDelayGauges(registry, "stickylb_");
  const series = seriesOn(registry);
  declareProcessSeries(series, source, version);
  const runtime = source.runtime;
  if (runtime === undefined) return registry;

  // The order of declaration is the order of /metrics.
  const listeners = () => listenerViews(runtime.current, runtime.listeners);
  declareListenerSeries(series, runtime, listeners, source);
  declareMemberSeries(series, runtime);
  registry.registerMetric(requestDurationMetric(listeners) as unknown as Metric);
  declarePoolSeries(series, runtime, source);
  // The state store's series, read from the store in effect at scrape time (a reload may replace
  // it); no samples while no store is configured.
  registerDeclaredSeries(
    registry,
    new StateStoreMetrics().series().map((declared) => ({
      ...declared,
      samples: () =>
        runtime.stateStore.current?.metrics
          .series()
          .find((s) => s.name === declared.name)
          ?.samples() ?? [],
    })),
  );
  return registry;
}
