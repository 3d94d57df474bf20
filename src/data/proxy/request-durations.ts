/**
 * Request durations of one HTTP listener, by pool, counted into fixed histogram buckets. The data
 * path records one duration per completed response with a short scan over 15 bounds and no label
 * string; the admin side turns the counts into `stickylb_request_duration_seconds` and into the
 * p50/p99 of the status JSON at read time (so serving traffic never calls the metrics library).
 */

import type { LiveLabels } from "../listener/live-labels.js";

/** Upper bounds in seconds: 1 ms to 60 s, the range between a cached answer and a member timeout. */
export const DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** One pool's histogram: counts per bucket (not cumulative; the last slot is past 60 s). */
export interface DurationSeries {
  readonly pool: string;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class RequestDurations {
  /** Pools are few per listener; pools that leave are forgotten (`forget`), so the map is bounded by the configuration. */
  private readonly byPool = new Map<string, DurationSeries>();

  /** Records one completed response of `pool` that took `ms` milliseconds. */
  observe(pool: string, ms: number): void {
    let series = this.byPool.get(pool);
    if (series === undefined) {
      series = { pool, counts: new Float64Array(DURATION_BUCKETS.length + 1), sum: 0, count: 0 };
      this.byPool.set(pool, series);
    }
    const seconds = ms > 0 ? ms / 1000 : 0;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    series.counts[i]!++;
    series.sum += seconds;
    series.count++;
  }

  /** Forgets the histograms of pools that are gone, so that pool churn does not grow the series. */
  forget(live: LiveLabels): void {
    for (const pool of this.byPool.keys()) if (!live.hasPool(pool)) this.byPool.delete(pool);
  }

  series(): Iterable<DurationSeries> {
    return this.byPool.values();
  }
}

/** The per-bucket counts of several series added up (the last slot is past the last bound). */
export function mergedCounts(series: Iterable<{ readonly counts: ArrayLike<number> }>): number[] {
  const merged = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
  for (const s of series) for (let i = 0; i < merged.length; i++) merged[i]! += s.counts[i] ?? 0;
  return merged;
}

/**
 * The `q` quantile (0–1) of per-bucket `counts`, estimated as Prometheus's `histogram_quantile`
 * does: linear within the bucket that holds it; past the last bound, the last bound. Null when
 * there is no observation.
 */
export function durationQuantile(counts: readonly number[], q: number): number | null {
  const total = counts.reduce((n, c) => n + c, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const inBucket = counts[i]!;
    if (below + inBucket >= rank && inBucket > 0) {
      if (i >= DURATION_BUCKETS.length) return DURATION_BUCKETS[DURATION_BUCKETS.length - 1]!;
      const lower = i === 0 ? 0 : DURATION_BUCKETS[i - 1]!;
      const upper = DURATION_BUCKETS[i]!;
      return lower + (upper - lower) * ((rank - below) / inBucket);
    }
    below += inBucket;
  }
  return DURATION_BUCKETS[DURATION_BUCKETS.length - 1]!;
}
