import { describe, expect, it } from "vitest";
import type { Candidate } from "../../../src/core/member.js";
import { LeastConnectionsPolicy } from "../../../src/data/balancer/least-connections.js";
import { candidate } from "./support.js";

function names(policy: LeastConnectionsPolicy, candidates: readonly Candidate[], picks: number): string {
  return Array.from({ length: picks }, () => policy.pick(candidates)?.endpoint ?? "-").join(" ");
}

describe("LeastConnectionsPolicy", () => {
  it("picks the lowest active/weight", () => {
    const policy = new LeastConnectionsPolicy();
    const set = [
      candidate("a", { active: 4, weight: 1 }),
      candidate("b", { active: 9, weight: 3 }),
      candidate("c", { active: 5, weight: 2 }),
    ];
    expect(policy.pick(set)?.endpoint).toBe("c");
  });

  it("rotates through members tied at the lowest ratio, in candidate order", () => {
    const policy = new LeastConnectionsPolicy();
    const set = [candidate("a"), candidate("b"), candidate("c")];
    expect(names(policy, set, 7)).toBe("a b c a b c a");
  });

  it("treats equal ratios with different weights as a tie, exactly", () => {
    const policy = new LeastConnectionsPolicy();
    // 1/3, 2/6 and 3/9 are equal; floating-point division would not say so for every pair.
    const set = [
      candidate("a", { active: 1, weight: 3 }),
      candidate("b", { active: 2, weight: 6 }),
      candidate("c", { active: 3, weight: 9 }),
      candidate("d", { active: 1, weight: 2 }),
    ];
    expect(names(policy, set, 4)).toBe("a b c a");
  });

  it("keeps its rotation across picks with a single winner", () => {
    const policy = new LeastConnectionsPolicy();
    const tied = [candidate("a"), candidate("b")];
    expect(names(policy, tied, 1)).toBe("a");
    expect(names(policy, [candidate("a", { active: 1 }), candidate("b")], 2)).toBe("b b");
    expect(names(policy, tied, 2)).toBe("b a");
  });

  it("follows the load as connections are counted", () => {
    const policy = new LeastConnectionsPolicy();
    const active = new Map([
      ["a", 0],
      ["b", 0],
      ["c", 2],
    ]);
    const picks: string[] = [];
    for (let i = 0; i < 6; i++) {
      const set = ["a", "b", "c"].map((e) => candidate(e, { active: active.get(e)! }));
      const picked = policy.pick(set)!.endpoint;
      active.set(picked, active.get(picked)! + 1);
      picks.push(picked);
    }
    // Cursor 0: a,b tie at 0 → a. b alone at 0. Cursor 1: a,b tie at 1 → b. a alone at 1.
    // Cursor 2: a,b,c tie at 2 → c. Cursor 3: a,b tie at 2 → b.
    expect(picks.join(" ")).toBe("a b b a c b");
  });

  it("never picks ineligible or weight-0 members, however idle", () => {
    const policy = new LeastConnectionsPolicy();
    const set = [
      candidate("busy", { active: 100 }),
      candidate("down", { eligible: false }),
      candidate("zero", { weight: 0 }),
    ];
    expect(names(policy, set, 3)).toBe("busy busy busy");
    expect(
      policy.pick([candidate("down", { eligible: false }), candidate("zero", { weight: 0 })]),
    ).toBeUndefined();
    expect(policy.pick([])).toBeUndefined();
  });
});
