import type { Candidate } from "../../core/member.js";
import type { Algorithm } from "../../core/model.js";
import { takesNewClients } from "./eligibility.js";
import type { BalancingPolicy } from "./policy.js";

/**
 * LeastConnectionsPolicy picks the taking part member with the lowest `active / weight`.
 *
 * Ratios are compared by cross-multiplying (`a.active * b.weight` against `b.active * a.weight`),
 * so equal loads are exactly equal and never split by floating-point rounding. Members tied at the
 * lowest ratio are served in turn: a cursor, advanced on every pick that found a tie, selects the
 * `cursor % ties`-th tied member in candidate order. Without it a burst of connections opened
 * before any is counted would all land on the first tied member.
 */
export class LeastConnectionsPolicy implements BalancingPolicy {
  readonly algorithm: Algorithm = "LEAST_CONNECTIONS";
  private cursor = 0;

  pick<C extends Candidate>(candidates: readonly C[]): C | undefined {
    const chosen = this.choose(candidates);
    if (chosen.ties > 1) this.cursor = (this.cursor + 1) % Number.MAX_SAFE_INTEGER;
    return chosen.member;
  }

  /** What {@link pick} would return now, without advancing the tie cursor. */
  peek<C extends Candidate>(candidates: readonly C[]): C | undefined {
    return this.choose(candidates).member;
  }

  private choose<C extends Candidate>(candidates: readonly C[]): { member: C | undefined; ties: number } {
    // First pass: the lowest ratio and how many members share it. Second pass: the chosen one.
    let lowest: C | undefined;
    let ties = 0;
    for (const candidate of candidates) {
      if (!takesNewClients(candidate)) continue;
      const order = lowest === undefined ? -1 : compareLoad(candidate, lowest);
      if (order < 0) {
        lowest = candidate;
        ties = 1;
      } else if (order === 0) {
        ties++;
      }
    }
    if (lowest === undefined || ties === 1) return { member: lowest, ties };

    let skip = this.cursor % ties;
    for (const candidate of candidates) {
      if (!takesNewClients(candidate) || compareLoad(candidate, lowest) !== 0) continue;
      if (skip === 0) return { member: candidate, ties };
      skip--;
    }
    return { member: lowest, ties };
  }
}

/** Sign of `a.active / a.weight - b.active / b.weight`, exact for integer counts and weights. */
function compareLoad(a: Candidate, b: Candidate): number {
  return a.active * b.weight - b.active * a.weight;
}
