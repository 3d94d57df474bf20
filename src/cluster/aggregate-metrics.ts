import { AggregatorRegistry } from "prom-client";

/** A registry's `getMetricsAsJSON()` as it crosses the IPC channel. */
export interface MetricJson {
  readonly name: string;
  readonly values: readonly { readonly labels: Readonly<Record<string, string | number>> }[];
  readonly [field: string]: unknown;
}

/** Series counted per binding table: summed, except for replicated tables (see below). */
const TABLE_SERIES = new Set(["stickylb_bindings", "stickylb_member_bindings"]);

/**
 * `/metrics` of `--workers N`: the primary's own series (reloads, its process) and every worker's,
 * merged by prom-client's `AggregatorRegistry.aggregate` with each metric's aggregator (counters
 * and open-connection gauges sum; `stickylb_member_up` takes the minimum; build info and weights
 * are not multiplied). APP_COOKIE tables are replicas in every worker, so their binding counts are
 * taken from worker 1 alone; SOURCE_IP tables are split by client IP and sum.
 *
 * `perProcess[0]` is the primary's, `perProcess[1]` worker 1's, then the other workers'.
 */
export async function aggregateMetrics(
  perProcess: readonly (readonly MetricJson[])[],
  replicatedPools: ReadonlySet<string>,
): Promise<string> {
  const cleaned = perProcess.map((metrics, i) =>
    i <= 1 || replicatedPools.size === 0
      ? metrics
      : metrics.map((m) =>
          TABLE_SERIES.has(m.name)
            ? { ...m, values: m.values.filter((v) => !replicatedPools.has(String(v.labels.pool))) }
            : m,
        ),
  );
  return AggregatorRegistry.aggregate(cleaned as object[]).metrics();
}
