import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Candidate } from "../../../src/core/member.js";
import {
  MAX_MAGLEV_MEMBERS,
  MaglevPolicy,
  MaglevTable,
  maglevTableSize,
} from "../../../src/data/balancer/maglev.js";
import { candidate, members, randomClientIps } from "./support.js";

const IPS = randomClientIps(20_000, 20240611);
const SEED = 0x3a61e7;

const endpointArb = fc
  .tuple(fc.ipV4(), fc.integer({ min: 1, max: 65535 }))
  .map(([address, port]) => `${address}:${port}`);

function busiestOverMean(table: MaglevTable): number {
  const counts = table.entryCounts();
  return Math.max(...counts) / (table.size / counts.length);
}

describe("MaglevTable", () => {
  it("uses a prime size of at least 100 entries per member, 65,537 for small pools", () => {
    expect(maglevTableSize(1)).toBe(65_537);
    expect(maglevTableSize(655)).toBe(65_537);
    expect(maglevTableSize(656)).toBe(131_071);
    expect(maglevTableSize(MAX_MAGLEV_MEMBERS)).toBe(4_194_301);
    expect(() => maglevTableSize(MAX_MAGLEV_MEMBERS + 1)).toThrow(/at most/);
  });

  it("keeps the busiest member within 1.05 × the mean share of entries (property)", () => {
    fc.assert(
      fc.property(fc.uniqueArray(endpointArb, { minLength: 1, maxLength: 300 }), (endpoints) => {
        expect(busiestOverMean(new MaglevTable(endpoints))).toBeLessThanOrEqual(1.05);
      }),
      { seed: SEED, numRuns: 25 },
    );
  });

  it("moves every client of a leaving member and at most 1 % of the others (property)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(endpointArb, { minLength: 2, maxLength: 200 }),
        fc.nat(),
        (endpoints, pick) => {
          const gone = endpoints[pick % endpoints.length]!;
          const before = new MaglevTable(endpoints);
          const after = new MaglevTable(endpoints.filter((e) => e !== gone));
          let others = 0;
          let moved = 0;
          let toGone = 0;
          for (const ip of IPS) {
            const was = before.lookup(ip);
            const now = after.lookup(ip);
            if (now === gone) toGone++;
            if (was === gone) continue;
            others++;
            if (now !== was) moved++;
          }
          expect(toGone).toBe(0);
          expect(moved).toBeLessThanOrEqual(0.01 * others);
        },
      ),
      { seed: SEED, numRuns: 20 },
    );
  });

  it("moves about 1/(N+1) of clients, all but 1 % to the newcomer, when a member joins", () => {
    const ten = members(10).map((c) => c.endpoint);
    const before = new MaglevTable(ten);
    const after = new MaglevTable([...ten, "10.0.1.99:8080"]);
    const moved = IPS.filter((ip) => before.lookup(ip) !== after.lookup(ip));
    const toNewcomer = moved.filter((ip) => after.lookup(ip) === "10.0.1.99:8080");
    expect(moved.length).toBeLessThanOrEqual((1.1 * IPS.length) / 11);
    expect(moved.length - toNewcomer.length).toBeLessThanOrEqual(0.01 * IPS.length);
  });

  it("depends on the set of endpoints only, not their order or duplicates (property)", () => {
    fc.assert(
      fc.property(
        fc
          .uniqueArray(endpointArb, { minLength: 1, maxLength: 30 })
          .chain((set) => fc.tuple(fc.constant(set), fc.shuffledSubarray(set, { minLength: set.length }))),
        ([set, permuted]) => {
          const a = new MaglevTable(set);
          const b = new MaglevTable([...permuted, permuted[0]!]);
          expect(b.endpoints).toEqual(a.endpoints);
          for (const ip of IPS.slice(0, 500)) expect(b.lookup(ip)).toBe(a.lookup(ip));
        },
      ),
      { seed: SEED, numRuns: 30 },
    );
  });

  it("is pinned: the same members give the same table in every version", () => {
    // Regression values: changing the hashes or the fill order would move every client.
    const table = new MaglevTable(members(10).map((c) => c.endpoint));
    expect(
      ["192.0.2.1", "198.51.100.23", "2001:db8::1", "fe80::1"].map((ip) => table.lookup(ip)),
    ).toMatchInlineSnapshot(`
        [
          "10.0.0.5:8080",
          "10.0.0.9:8080",
          "10.0.0.2:8080",
          "10.0.0.10:8080",
        ]
      `);
  });

  it("has no owner when empty", () => {
    expect(new MaglevTable([]).lookup("192.0.2.1")).toBeUndefined();
  });
});

describe("MaglevPolicy", () => {
  const ten = members(10);
  const mapping = (policy: MaglevPolicy, set: readonly Candidate[], version?: number) =>
    IPS.map((clientIp) => policy.pick(set, { clientIp, eligibilityVersion: version })?.endpoint ?? "");

  it("maps like the table over the eligible endpoints", () => {
    const table = new MaglevTable(ten.map((c) => c.endpoint));
    expect(mapping(new MaglevPolicy(), ten)).toEqual(IPS.map((ip) => table.lookup(ip)));
  });

  it("moves only the clients of a member that turns ineligible, and gives them back on return", () => {
    const policy = new MaglevPolicy();
    const live = ten.map((c) => ({ ...c }));
    const before = mapping(policy, live);
    live[4]!.eligible = false;
    const during = mapping(policy, live);
    expect(during).not.toContain(ten[4]!.endpoint);
    const others = before.filter((e) => e !== ten[4]!.endpoint).length;
    const movedOthers = before.filter((e, i) => e !== ten[4]!.endpoint && during[i] !== e).length;
    expect(movedOthers).toBeLessThanOrEqual(0.01 * others);
    live[4]!.eligible = true;
    expect(mapping(policy, live)).toEqual(before);
  });

  it("treats weight 0 like ineligible and ignores other weights", () => {
    const weighted = ten.map((c, i) => ({ ...c, weight: i === 2 ? 0 : i * 10 + 1 }));
    const expected = new MaglevTable(ten.filter((_, i) => i !== 2).map((c) => c.endpoint));
    expect(mapping(new MaglevPolicy(), weighted)).toEqual(IPS.map((ip) => expected.lookup(ip)));
  });

  it("trusts an unchanged eligibility version for the same array, and re-checks when it changes", () => {
    const policy = new MaglevPolicy();
    const live = ten.map((c) => ({ ...c }));
    const before = mapping(policy, live, 1);
    live[0]!.eligible = false;
    // Same array, same version: the caller promised nothing changed, so the cached table answers.
    expect(mapping(policy, live, 1)).toEqual(before);
    expect(mapping(policy, live, 2)).not.toContain(ten[0]!.endpoint);
  });

  it("breaks a tie between two entries for one endpoint by id, not by position", () => {
    const a = candidate("10.9.9.9:80", { id: "a/10.9.9.9:80" });
    const b = candidate("10.9.9.9:80", { id: "b/10.9.9.9:80" });
    expect(new MaglevPolicy().pick([a, b], { clientIp: "198.51.100.7" })).toBe(a);
    expect(new MaglevPolicy().pick([b, a], { clientIp: "198.51.100.7" })).toBe(a);
  });

  it("returns undefined when no member may take clients", () => {
    const policy = new MaglevPolicy();
    expect(policy.pick([], { clientIp: "192.0.2.1" })).toBeUndefined();
    expect(
      policy.pick(
        ten.map((c) => ({ ...c, eligible: false })),
        { clientIp: "192.0.2.1" },
      ),
    ).toBeUndefined();
  });
});
