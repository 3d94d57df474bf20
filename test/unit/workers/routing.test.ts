import { describe, expect, it } from "vitest";
import { routeToSlot, workerSlotOf } from "../../../src/cluster/routing.js";
import { parseWorkerCount } from "../../../src/cluster/worker-count.js";

describe("workerSlotOf", () => {
  it("is a pure function of the client IP, within 0 … workers−1", () => {
    for (let i = 0; i < 200; i++) {
      const ip = `10.0.${i >> 8}.${i & 255}`;
      const slot = workerSlotOf(ip, 4);
      expect(slot).toBeGreaterThanOrEqual(0);
      expect(slot).toBeLessThan(4);
      expect(workerSlotOf(ip, 4)).toBe(slot);
    }
    expect(workerSlotOf("198.51.100.7", 1)).toBe(0);
  });

  it("spreads client IPs evenly over workers", () => {
    const counts = [0, 0, 0];
    for (let i = 0; i < 30_000; i++)
      counts[workerSlotOf(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 3)]!++;
    for (const n of counts) expect(Math.abs(n - 10_000)).toBeLessThan(600);
  });
});

describe("routeToSlot", () => {
  const ip = "203.0.113.9";
  const owner = workerSlotOf(ip, 3);

  it("routes to the owner while it is ready", () => {
    expect(routeToSlot(ip, 3, () => true)).toBe(owner);
  });

  it("falls back to the next ready slot while the owner restarts, and to none when none is ready", () => {
    expect(routeToSlot(ip, 3, (s) => s !== owner)).toBe((owner + 1) % 3);
    expect(routeToSlot(ip, 3, (s) => s === (owner + 2) % 3)).toBe((owner + 2) % 3);
    expect(routeToSlot(ip, 3, () => false)).toBeUndefined();
  });
});

describe("parseWorkerCount", () => {
  it("accepts positive integers and auto (the number of cores)", () => {
    expect(parseWorkerCount("1")).toBe(1);
    expect(parseWorkerCount("8")).toBe(8);
    expect(parseWorkerCount("auto", 6)).toBe(6);
    expect(parseWorkerCount("auto", 0)).toBe(1);
  });

  it("refuses zero, negatives, fractions and words", () => {
    for (const bad of ["0", "-1", "1.5", "two", "", "01"]) expect(parseWorkerCount(bad)).toBeUndefined();
  });
});
