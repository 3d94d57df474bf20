import type { Clock } from "../core/clock.js";

interface Sample {
  readonly at: number;
  readonly values: ReadonlyMap<string, number>;
}

/**
 * Per-second rates of cumulative counters over a sliding window (like Prometheus `rate()` over the
 * last few seconds): the owner records samples on a timer; a rate compares the newest sample with
 * the oldest one still in the window. A counter that went down (its member was recreated) counts
 * from zero, as Prometheus treats a counter reset.
 */
export class RateTracker {
  private readonly samples: Sample[] = [];

  constructor(
    private readonly clock: Clock,
    readonly windowMs = 5000,
  ) {}

  sample(values: ReadonlyMap<string, number>): void {
    const at = this.clock.now();
    this.samples.push({ at, values });
    // Keep the newest sample at or beyond the window's start, so a rate always spans the window.
    while (this.samples.length > 2 && this.samples[1]!.at <= at - this.windowMs) this.samples.shift();
  }

  /** Units per second of `key`; 0 until two samples exist or when the key is new. */
  rate(key: string): number {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (first === undefined || last === undefined || last.at <= first.at) return 0;
    const now = last.values.get(key);
    if (now === undefined) return 0;
    const before = first.values.get(key) ?? 0;
    const delta = now >= before ? now - before : now;
    return (delta * 1000) / (last.at - first.at);
  }
}
