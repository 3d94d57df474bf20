/**
 * Plugs declared series (`StateStoreMetrics.series()`, and any other component that declares its
 * own) into a prom-client registry. prom-client accepts any object with `name`, `help`, `type` and
 * an async `get()`; values are read at scrape time, so the data path never calls prom-client.
 */
import type { Registry } from "prom-client";
import type { DeclaredSeries } from "./store-metrics.js";

export function registerDeclaredSeries(registry: Registry, series: readonly DeclaredSeries[]): void {
  for (const s of series) {
    const metric = {
      name: s.name,
      help: s.help,
      type: s.type,
      aggregator: s.aggregator,
      get: async () => ({
        name: s.name,
        help: s.help,
        type: s.type,
        aggregator: s.aggregator,
        values: s.samples().map((v) => ({ metricName: v.name, labels: { ...v.labels }, value: v.value })),
      }),
    };
    // biome-ignore lint/suspicious/noExplicitAny: prom-client types registerMetric for its own classes only.
    registry.registerMetric(metric as any);
  }
}
