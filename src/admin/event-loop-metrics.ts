/**
 * Event-loop delay gauges that never read NaN. prom-client's default ones read Node's
 * `monitorEventLoopDelay` histogram and reset it at every scrape; a histogram with no sample yet
 * (right after start, or two scrapes within one sampling interval) has a NaN mean and standard
 * deviation and a minimum of 2^63 ns, which OpenMetrics parsers refuse. These keep the same names
 * and meaning, read the histogram only once it holds a sample, and keep the last values otherwise.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Gauge, type Registry } from "prom-client";

/** The histogram gauges that `collectDefaultMetrics` registers, without the prefix. */
const SERIES = [
  ["nodejs_eventloop_lag_min_seconds", "The minimum recorded event loop delay."],
  ["nodejs_eventloop_lag_max_seconds", "The maximum recorded event loop delay."],
  ["nodejs_eventloop_lag_mean_seconds", "The mean of the recorded event loop delays."],
  ["nodejs_eventloop_lag_stddev_seconds", "The standard deviation of the recorded event loop delays."],
  ["nodejs_eventloop_lag_p50_seconds", "The 50th percentile of the recorded event loop delays."],
  ["nodejs_eventloop_lag_p90_seconds", "The 90th percentile of the recorded event loop delays."],
  ["nodejs_eventloop_lag_p99_seconds", "The 99th percentile of the recorded event loop delays."],
] as const;

type Histogram = ReturnType<typeof monitorEventLoopDelay>;

/** The seven values in {@link SERIES} order, in seconds; undefined while there is no sample. */
export function eventLoopDelaySeconds(
  h: Pick<Histogram, "count" | "min" | "max" | "mean" | "stddev" | "percentile">,
): number[] | undefined {
  if (h.count === 0) return undefined;
  const values = [h.min, h.max, h.mean, h.stddev, h.percentile(50), h.percentile(90), h.percentile(99)];
  return values.map((ns) => (Number.isFinite(ns) ? ns / 1e9 : 0));
}

/**
 * Replaces the histogram gauges that `collectDefaultMetrics({prefix})` put in `registry` with
 * ones that never read NaN. Call it right after `collectDefaultMetrics`.
 */
export function replaceEventLoopDelayGauges(registry: Registry, prefix: string): void {
  for (const [name] of SERIES) registry.removeSingleMetric(prefix + name);
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let last: number[] = SERIES.map(() => 0);
  const gauges: Gauge[] = [];
  const set = (values: readonly number[]): void => {
    gauges.forEach((g, i) => {
      g.set(values[i] ?? 0);
    });
  };
  for (const [i, [name, help]] of SERIES.entries()) {
    gauges.push(
      new Gauge({
        name: prefix + name,
        help,
        registers: [registry],
        aggregator: "average",
        // The first gauge reads the histogram for all seven (registered first, so its collect runs
        // before the others are read): all seven come from one read.
        ...(i === 0
          ? {
              collect: () => {
                const values = eventLoopDelaySeconds(histogram);
                if (values !== undefined) {
                  last = values;
                  histogram.reset();
                }
                set(last);
              },
            }
          : {}),
      }),
    );
  }
  set(last);
}
