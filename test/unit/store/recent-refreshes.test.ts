/**
 * How often a key in use is refreshed in the store: the refresh period and its generations, on an
 * injected clock (no store here; the refreshes themselves are tested against a real Redis in
 * shared-claims-redis.test.ts and shared-bindings-redis.test.ts).
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/core/clock.js";
import {
  MAX_REFRESH_PERIOD_MS,
  RecentRefreshes,
  refreshTiming,
} from "../../../src/store/recent-refreshes.js";

describe("refreshTiming", () => {
  it("is a sixteenth of the persistence timeout, at least two flushes and at most a minute", () => {
    expect(refreshTiming(600_000, 1000).refreshPeriodMs).toBe(37_500);
    expect(refreshTiming(5_000, 1000).refreshPeriodMs).toBe(2_000);
    expect(refreshTiming(24 * 3600_000, 1000).refreshPeriodMs).toBe(MAX_REFRESH_PERIOD_MS);
  });

  it("keeps a key recent for at most the period: two generations plus two late flushes", () => {
    for (const [ttl, flush] of [
      [600_000, 1000],
      [60_000, 100],
      [5_000, 1000],
      [1_500, 100],
    ] as const) {
      const { refreshPeriodMs, generationMs } = refreshTiming(ttl, flush);
      expect(2 * generationMs + 2 * flush).toBeLessThanOrEqual(refreshPeriodMs);
    }
  });
});

describe("RecentRefreshes", () => {
  /** Flushes every `flushMs` on the clock until `key` is no longer recent; returns how long it was. */
  function recentFor(flushMs: number, ttlMs: number, addedAfterMs: number): number {
    const clock = new ManualClock(0);
    const { generationMs } = refreshTiming(ttlMs, flushMs);
    const recent = new RecentRefreshes(generationMs, 100, clock);
    clock.advance(addedAfterMs);
    recent.roll();
    const added = clock.now();
    recent.add("k");
    for (;;) {
      clock.advance(flushMs);
      recent.roll();
      if (!recent.has("k")) return clock.now() - added;
    }
  }

  it("a refreshed key stays recent for at least one generation and at most the refresh period", () => {
    for (const [flush, ttl] of [
      [1000, 600_000],
      [100, 60_000],
      [1000, 5_000],
    ] as const) {
      const { refreshPeriodMs, generationMs } = refreshTiming(ttl, flush);
      // Added at every phase of a generation.
      for (let after = 0; after < generationMs + 2 * flush; after += flush) {
        const lasted = recentFor(flush, ttl, after);
        expect(lasted).toBeGreaterThanOrEqual(Math.max(generationMs, flush));
        expect(lasted).toBeLessThanOrEqual(refreshPeriodMs);
      }
    }
  });

  it("forgets a deleted key at once and is bounded per generation", () => {
    const clock = new ManualClock(0);
    const recent = new RecentRefreshes(1000, 2, clock);
    recent.add("a");
    recent.add("b");
    recent.add("c");
    expect([recent.has("a"), recent.has("b"), recent.has("c")]).toEqual([true, true, false]);
    recent.delete("a");
    expect(recent.has("a")).toBe(false);
    clock.advance(1000);
    recent.roll();
    expect(recent.has("b")).toBe(true);
    recent.add("c");
    expect(recent.has("c")).toBe(true);
    clock.advance(1000);
    recent.roll();
    clock.advance(1000);
    recent.roll();
    expect(recent.has("b") || recent.has("c")).toBe(false);
  });
});
