import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Candidate, endpointOf } from "../../src/core/member.js";
import type { Algorithm } from "../../src/core/model.js";
import { createPolicy, registeredAlgorithms } from "../../src/data/balancer/registry.js";

/**
 * One suite for every registered balancing policy (docs/architecture.md). The contract comes from
 * policy.ts and docs/reference/behaviour.md#algorithms; what only some algorithms promise is listed per algorithm below, and the
 * `Record` makes a new registration say which promises it makes.
 */
interface Promises {
  /** The pick depends on the set of candidates, not their order (SOURCE_IP's cross-instance agreement). */
  readonly orderIndependent: boolean;
  /** From a fresh instance, `total weight` picks give each member exactly its weight. */
  readonly exactWeightShares: boolean;
}

const PROMISES: Record<Algorithm, Promises> = {
  ROUND_ROBIN: { orderIndependent: false, exactWeightShares: true },
  LEAST_CONNECTIONS: { orderIndependent: false, exactWeightShares: false },
  SOURCE_IP: { orderIndependent: true, exactWeightShares: false },
};

const SEED = 0x5eed;

function member(endpoint: string, fields: Partial<Candidate> = {}): Candidate {
  return { id: `pool/${endpoint}`, endpoint, weight: 1, eligible: true, active: 0, ...fields };
}

const clientIp = fc.oneof(fc.ipV4(), fc.ipV6());

const candidateArb: fc.Arbitrary<Candidate> = fc
  .record({
    address: fc.oneof(fc.ipV4(), fc.ipV6()),
    port: fc.integer({ min: 1, max: 65535 }),
    weight: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100 })),
    eligible: fc.boolean(),
    active: fc.nat(1000),
  })
  .map(({ address, port, ...rest }) => member(endpointOf(address, port), rest));

const candidatesArb = fc.uniqueArray(candidateArb, { selector: (c) => c.endpoint, maxLength: 12 });

const takesNewClients = (c: Candidate) => c.eligible && c.weight > 0;

describe.each(registeredAlgorithms())("%s conforms to the BalancingPolicy contract", (algorithm) => {
  const ctx = { clientIp: "192.0.2.10" };

  it("reports its algorithm", () => {
    expect(createPolicy(algorithm).algorithm).toBe(algorithm);
  });

  it("returns undefined for an empty set and for an all-ineligible set", () => {
    const policy = createPolicy(algorithm);
    expect(policy.pick([], ctx)).toBeUndefined();
    const down = [member("10.0.0.1:80", { eligible: false }), member("10.0.0.2:80", { eligible: false })];
    for (let i = 0; i < 5; i++) expect(policy.pick(down, ctx)).toBeUndefined();
  });

  it("never picks an ineligible candidate or one with weight 0", () => {
    const policy = createPolicy(algorithm);
    const set = [
      member("10.0.0.1:80", { eligible: false }),
      member("10.0.0.2:80", { weight: 0 }),
      member("10.0.0.3:80", { active: 50 }),
      member("10.0.0.4:80", { weight: 0, eligible: false }),
    ];
    for (let i = 0; i < 20; i++) {
      expect(policy.pick(set, { clientIp: `198.51.100.${i}` })?.endpoint).toBe("10.0.0.3:80");
    }
    expect(policy.pick([member("10.0.0.2:80", { weight: 0 })], ctx)).toBeUndefined();
  });

  it("picks an eligible candidate of the set, or undefined exactly when none is eligible (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(candidatesArb, clientIp), { minLength: 1, maxLength: 8 }), (rounds) => {
        // One instance across rounds: state from earlier sets must not leak into later picks.
        const policy = createPolicy(algorithm);
        for (const [candidates, ip] of rounds) {
          const picked = policy.pick(candidates, { clientIp: ip });
          if (candidates.some(takesNewClients)) {
            expect(picked).toBeDefined();
            expect(candidates).toContain(picked);
            expect(takesNewClients(picked!)).toBe(true);
          } else {
            expect(picked).toBeUndefined();
          }
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("peek returns what the next pick returns, however often it is asked (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(candidatesArb, clientIp, fc.integer({ min: 0, max: 3 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (rounds) => {
          // Ties (several members at the same load) are where a cursor or rotation would show.
          const policy = createPolicy(algorithm);
          for (const [candidates, ip, peeks] of rounds) {
            const ctx = { clientIp: ip };
            const first = policy.peek(candidates, ctx);
            for (let i = 0; i < peeks; i++) expect(policy.peek(candidates, ctx)).toBe(first);
            expect(policy.pick(candidates, ctx)).toBe(first);
          }
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("peek never moves a rotation: equal members are still served in turn", () => {
    const set = [member("10.0.0.1:80"), member("10.0.0.2:80"), member("10.0.0.3:80")];
    const policy = createPolicy(algorithm);
    const picks: (string | undefined)[] = [];
    const peeks: (string | undefined)[] = [];
    for (let i = 0; i < 6; i++) {
      peeks.push(policy.peek(set, { clientIp: "192.0.2.1" })?.endpoint);
      policy.peek(set, { clientIp: "192.0.2.1" });
      picks.push(policy.pick(set, { clientIp: "192.0.2.1" })?.endpoint);
    }
    expect(peeks).toEqual(picks);
    const fresh = createPolicy(algorithm);
    expect(picks).toEqual(
      Array.from({ length: 6 }, () => fresh.pick(set, { clientIp: "192.0.2.1" })?.endpoint),
    );
  });
});

describe.each(registeredAlgorithms().filter((a) => PROMISES[a].orderIndependent))(
  "%s is order independent",
  (algorithm) => {
    it("picks the same member for any order of the same set (property)", () => {
      fc.assert(
        fc.property(
          candidatesArb.chain((set) =>
            fc.tuple(fc.constant(set), fc.shuffledSubarray(set, { minLength: set.length }), clientIp),
          ),
          ([set, permuted, ip]) => {
            const policy = createPolicy(algorithm);
            const first = policy.pick(set, { clientIp: ip })?.endpoint;
            expect(policy.pick(permuted, { clientIp: ip })?.endpoint).toBe(first);
            expect(createPolicy(algorithm).pick(permuted, { clientIp: ip })?.endpoint).toBe(first);
          },
        ),
        { seed: SEED, numRuns: 300 },
      );
    });
  },
);

describe.each(registeredAlgorithms().filter((a) => PROMISES[a].exactWeightShares))(
  "%s shares by weight",
  (algorithm) => {
    const ctx = { clientIp: "192.0.2.10" };

    it("gives each member exactly weight/total over a full cycle (property)", () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 8 }),
          fc.integer({ min: 1, max: 3 }),
          (weights, cycles) => {
            const set = weights.map((weight, i) => member(`10.0.0.${i + 1}:80`, { weight }));
            const total = weights.reduce((sum, w) => sum + w, 0);
            const policy = createPolicy(algorithm);
            for (let cycle = 0; cycle < cycles; cycle++) {
              const counts = new Map<string, number>();
              for (let i = 0; i < total; i++) {
                const endpoint = policy.pick(set, ctx)!.endpoint;
                counts.set(endpoint, (counts.get(endpoint) ?? 0) + 1);
              }
              expect(set.map((c) => counts.get(c.endpoint) ?? 0)).toEqual(weights);
            }
          },
        ),
        { seed: SEED, numRuns: 200 },
      );
    });
  },
);
