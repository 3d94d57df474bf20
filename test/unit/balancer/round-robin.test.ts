import { describe, expect, it } from "vitest";
import type { Candidate } from "../../../src/core/member.js";
import type { BalancingPolicy } from "../../../src/data/balancer/policy.js";
import { RoundRobinPolicy } from "../../../src/data/balancer/round-robin.js";
import { candidate } from "./support.js";

const ctx = { clientIp: "192.0.2.1" };

function names(policy: RoundRobinPolicy, candidates: readonly Candidate[], picks: number): string {
  return Array.from({ length: picks }, () => policy.pick(candidates)?.endpoint ?? "-").join(" ");
}

const a = candidate("a");
const b = candidate("b");
const c = candidate("c");

describe("RoundRobinPolicy (nginx smooth weighted round robin)", () => {
  it("interleaves weights 5,1,1 exactly as nginx does", () => {
    const set = [{ ...a, weight: 5 }, b, c];
    expect(names(new RoundRobinPolicy(), set, 14)).toBe("a a b a c a a a a b a c a a");
  });

  it("cycles equal weights in candidate order", () => {
    expect(names(new RoundRobinPolicy(), [a, b, c], 6)).toBe("a b c a b c");
  });

  it("interleaves weights 2,1 and 3,2", () => {
    expect(names(new RoundRobinPolicy(), [{ ...a, weight: 2 }, b], 6)).toBe("a b a a b a");
    expect(
      names(
        new RoundRobinPolicy(),
        [
          { ...a, weight: 3 },
          { ...b, weight: 2 },
        ],
        5,
      ),
    ).toBe("a b a b a");
  });

  it("skips ineligible and weight-0 members and returns undefined when none take part", () => {
    const policy = new RoundRobinPolicy();
    expect(names(policy, [a, { ...b, eligible: false }, { ...c, weight: 0 }], 3)).toBe("a a a");
    expect(policy.pick([])).toBeUndefined();
    expect(
      policy.pick([
        { ...a, eligible: false },
        { ...b, weight: 0 },
      ]),
    ).toBeUndefined();
  });

  it("keeps the others' state by id when a member leaves and when one joins", () => {
    const policy = new RoundRobinPolicy();
    const weighted = [{ ...a, weight: 5 }, b, c];
    // a=5 b=1 c=1: after "a a b" the state is a:1 b:-4 c:3 (see the golden test).
    expect(names(policy, weighted, 3)).toBe("a a b");
    // b leaves: a:1+5=6 wins over c:3+1=4, then a:0+5 over c:4+1 (tie → first), then c.
    expect(names(policy, [weighted[0]!, c], 3)).toBe("a a c");
    // A newcomer starts at 0 while the others keep their place.
    const d = candidate("d", { weight: 2 });
    const fresh = new RoundRobinPolicy();
    expect(names(fresh, [a, b], 2)).toBe("a b");
    expect(names(fresh, [a, b, d], 4)).toBe("d a b d");
  });

  it("freezes an ineligible member's place in the cycle until it returns", () => {
    const policy = new RoundRobinPolicy();
    expect(names(policy, [a, b, c], 1)).toBe("a");
    // State a:-2 b:1 c:1. While b is out it stays at 1; a and c share the picks (c:2, then c:1 > a:0).
    expect(names(policy, [a, { ...b, eligible: false }, c], 2)).toBe("c c");
    // Back with a:0 b:1 c:-1, b goes first and the three settle into a steady 3-cycle.
    expect(names(policy, [a, b, c], 6)).toBe("b a c b a c");
  });

  it("gives each member exactly weight/total of a full cycle", () => {
    const set = [
      candidate("w3", { weight: 3 }),
      candidate("w7", { weight: 7 }),
      candidate("w10", { weight: 10 }),
    ];
    const policy = new RoundRobinPolicy();
    for (let cycle = 0; cycle < 3; cycle++) {
      const counts = new Map<string, number>();
      for (let i = 0; i < 20; i++) {
        const picked = policy.pick(set)!.endpoint;
        counts.set(picked, (counts.get(picked) ?? 0) + 1);
      }
      expect(Object.fromEntries(counts)).toEqual({ w3: 3, w7: 7, w10: 10 });
    }
  });

  it("ignores the pick context", () => {
    const policy: BalancingPolicy = new RoundRobinPolicy();
    expect(policy.pick([a, b], ctx)).toBe(a);
    expect(policy.pick([a, b], { clientIp: "other" })).toBe(b);
  });

  it("forgets departed members without disturbing the pool", () => {
    const policy = new RoundRobinPolicy();
    for (let i = 0; i < 100; i++) policy.pick([candidate(`gone-${i}`)]);
    expect(names(policy, [a, b, c], 6)).toBe("a b c a b c");
  });
});
