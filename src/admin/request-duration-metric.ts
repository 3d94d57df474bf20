import type { MetricValueWithName } from "prom-client";
import { DURATION_BUCKETS } from "../data/proxy/request-durations.js";
import type { ListenerView } from "./listener-view.js";

/**
 * `stickylb_request_duration_seconds{listener,pool}`: a histogram whose buckets the HTTP data path
 * counts itself (data/proxy/request-durations.ts), handed to prom-client as a metric of its own at
 * scrape time in the shape prom-client's Histogram produces, so the text format and the `--workers`
 * aggregation (summed per label set) are prom-client's. A prom-client Histogram would hash its
 * labels on every observe; this keeps the data path at one bucket scan per response.
 */
export function requestDurationMetric(listeners: () => Iterable<ListenerView>) {
  const name = "stickylb_request_duration_seconds";
  const read = () => {
    const values: MetricValueWithName<string>[] = [];
    for (const v of listeners()) {
      for (const series of v.durations ?? []) {
        const labels = { listener: v.model.name, pool: series.pool };
        let cumulative = 0;
        DURATION_BUCKETS.forEach((le, i) => {
          cumulative += series.counts[i] ?? 0;
          values.push({ metricName: `${name}_bucket`, labels: { le, ...labels }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { le: "+Inf", ...labels }, value: series.count });
        values.push({ metricName: `${name}_sum`, labels, value: series.sum });
        values.push({ metricName: `${name}_count`, labels, value: series.count });
      }
    }
    return {
      name,
      help: "HTTP request duration from the request head to the end of the response, per listener and pool.",
      type: "histogram",
      values,
      aggregator: "sum",
    };
  };
  return { name, get: async () => read(), reset() {}, aggregator: "sum" };
}
