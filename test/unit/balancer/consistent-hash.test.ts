import { describe, expect, it } from "vitest";
import { HashRingPolicy } from "../../../bench/hash-ring.js";
import type { Candidate } from "../../../src/core/member.js";
import { ConsistentHashPolicy } from "../../../src/data/balancer/consistent-hash.js";
import type { BalancingPolicy } from "../../../src/data/balancer/policy.js";
import { candidate, members, randomClientIps, seededRandom } from "./support.js";

const IPS = randomClientIps(100_000, 20240611);

/** Endpoint chosen for every client IP, in IPS order ("" when none). */
function mapping(policy: BalancingPolicy, candidates: readonly Candidate[]): string[] {
  return IPS.map((clientIp) => policy.pick(candidates, { clientIp })?.endpoint ?? "");
}

/** The endpoints that the clients who moved between two mappings were on before. */
function movedFrom(before: readonly string[], after: readonly string[]): Set<string> {
  return new Set(before.filter((endpoint, i) => endpoint !== after[i]));
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const next = seededRandom(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The SOURCE_IP properties (SPEC 6.1), for the production design and the measured alternative. */
describe.each([
  { name: "ConsistentHashPolicy (rendezvous)", make: (): BalancingPolicy => new ConsistentHashPolicy() },
  { name: "HashRingPolicy (1,000 vnodes)", make: (): BalancingPolicy => new HashRingPolicy(1000) },
])("$name over 100,000 IPv4 and IPv6 clients", ({ make }) => {
  const ten = members(10);
  const before = mapping(make(), ten);

  it("spreads clients over 10 equal members with the busiest at most 1.10 × the mean", () => {
    const counts = new Map<string, number>();
    for (const endpoint of before) counts.set(endpoint, (counts.get(endpoint) ?? 0) + 1);
    expect(counts.size).toBe(10);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(1.1 * (IPS.length / 10));
  });

  it("moves only the removed member's clients when one of 10 leaves", () => {
    const gone = ten[3]!;
    const after = mapping(
      make(),
      ten.filter((c) => c !== gone),
    );
    expect(movedFrom(before, after)).toEqual(new Set([gone.endpoint]));
    expect(after).not.toContain(gone.endpoint);
  });

  it("moves only an ineligible member's clients, and gives them back when it returns", () => {
    const policy = make();
    const down = ten[7]!;
    const during = mapping(
      policy,
      ten.map((c) => (c === down ? { ...c, eligible: false } : c)),
    );
    expect(movedFrom(before, during)).toEqual(new Set([down.endpoint]));
    expect(during).not.toContain(down.endpoint);
    expect(mapping(policy, ten)).toEqual(before);
  });

  it("treats weight 0 like ineligible and ignores other weights", () => {
    const weighted = ten.map((c, i) => ({ ...c, weight: i === 2 ? 0 : i * 10 + 1 }));
    const after = mapping(make(), weighted);
    expect(movedFrom(before, after)).toEqual(new Set([ten[2]!.endpoint]));
    expect(after).not.toContain(ten[2]!.endpoint);
  });

  it("moves at most 1.3 × 1/11 of clients, all to the newcomer, when an 11th joins", () => {
    const newcomer = candidate("10.0.1.99:8080");
    const after = mapping(make(), [...ten, newcomer]);
    const moved = after.filter((endpoint, i) => endpoint !== before[i]);
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.length).toBeLessThanOrEqual((1.3 * IPS.length) / 11);
    expect(new Set(moved)).toEqual(new Set([newcomer.endpoint]));
  });

  it("gives the same mapping for the same members in any order and in another instance", () => {
    expect(mapping(make(), shuffled(ten, 1))).toEqual(before);
    expect(mapping(make(), shuffled(ten, 2))).toEqual(before);
  });

  it("returns undefined when no member may take clients", () => {
    const policy = make();
    expect(policy.pick([], { clientIp: "192.0.2.1" })).toBeUndefined();
    expect(
      policy.pick(
        ten.map((c) => ({ ...c, eligible: false })),
        { clientIp: "192.0.2.1" },
      ),
    ).toBeUndefined();
  });

  it("breaks a tie between two entries for one endpoint by id, not by position", () => {
    const a = candidate("10.9.9.9:80", { id: "a/10.9.9.9:80" });
    const b = candidate("10.9.9.9:80", { id: "b/10.9.9.9:80" });
    expect(make().pick([a, b], { clientIp: "198.51.100.7" })).toBe(a);
    expect(make().pick([b, a], { clientIp: "198.51.100.7" })).toBe(a);
  });
});

describe("ConsistentHashPolicy endpoint-hash cache", () => {
  it("keeps mapping correctly after churning through far more endpoints than a pool holds", () => {
    const churned = new ConsistentHashPolicy();
    for (let round = 0; round < 50; round++) {
      const pool = Array.from({ length: 10 }, (_, i) => candidate(`172.16.${round}.${i + 1}:443`));
      churned.pick(pool, { clientIp: "203.0.113.5" });
    }
    const ten = members(10);
    const fresh = new ConsistentHashPolicy();
    for (const clientIp of IPS.slice(0, 2000)) {
      expect(churned.pick(ten, { clientIp })).toBe(fresh.pick(ten, { clientIp }));
    }
  });

  it("is pinned to FNV-1a + fmix32 rendezvous so separate instances and versions agree", () => {
    // Regression values: changing the hash would move every client of every running pool.
    const ten = members(10);
    const picks = ["192.0.2.1", "198.51.100.23", "2001:db8::1", "fe80::1"].map(
      (clientIp) => new ConsistentHashPolicy().pick(ten, { clientIp })?.endpoint,
    );
    expect(picks).toMatchInlineSnapshot(`
      [
        "10.0.0.5:8080",
        "10.0.0.8:8080",
        "10.0.0.2:8080",
        "10.0.0.3:8080",
      ]
    `);
  });
});
