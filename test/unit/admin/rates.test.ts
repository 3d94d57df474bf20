import { describe, expect, it } from "vitest";
import { RateTracker } from "../../../src/admin/rates.js";
import { ManualClock } from "../../../src/core/clock.js";

describe("RateTracker", () => {
  it("is 0 until two samples exist", () => {
    const clock = new ManualClock(1000);
    const rates = new RateTracker(clock, 5000);
    expect(rates.rate("a")).toBe(0);
    rates.sample(new Map([["a", 10]]));
    expect(rates.rate("a")).toBe(0);
  });

  it("divides the increase over the window by its length", () => {
    const clock = new ManualClock(0);
    const rates = new RateTracker(clock, 5000);
    for (let i = 0; i <= 5; i++) {
      rates.sample(new Map([["a", i * 20]]));
      clock.advance(1000);
    }
    // 0 → 100 over 5 s.
    expect(rates.rate("a")).toBe(20);
    // The window slides: later samples at 50/s replace the first ones.
    for (let i = 6; i <= 11; i++) {
      rates.sample(new Map([["a", 100 + (i - 5) * 50]]));
      clock.advance(1000);
    }
    expect(rates.rate("a")).toBe(50);
  });

  it("treats a counter that went down as reset, and a new key as starting from 0", () => {
    const clock = new ManualClock(0);
    const rates = new RateTracker(clock, 5000);
    rates.sample(new Map([["a", 500]]));
    clock.advance(2000);
    rates.sample(
      new Map([
        ["a", 8],
        ["b", 4],
      ]),
    );
    expect(rates.rate("a")).toBe(4);
    expect(rates.rate("b")).toBe(2);
    expect(rates.rate("missing")).toBe(0);
  });
});
