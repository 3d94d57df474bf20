import type { Candidate, MemberId } from "../../core/member.js";
import type { Algorithm } from "../../core/model.js";
import { takesNewClients } from "./eligibility.js";
import type { BalancingPolicy } from "./policy.js";

/**
 * RoundRobinPolicy is nginx's smooth weighted round robin (ngx_http_upstream_get_peer, 2012):
 * on each pick every taking part member's `current` grows by its weight, the largest `current`
 * wins (the first one in candidate order on a tie) and loses the total weight. Weights 5,1,1 give
 * `a a b a c a a`: each member gets exactly weight/total of every cycle of `total` picks,
 * interleaved rather than in bursts.
 *
 * `current` is kept per MemberId, not per position, so a member joining, leaving or turning
 * ineligible leaves the others' place in the cycle alone; an ineligible member's value is frozen
 * until it comes back.
 */
export class RoundRobinPolicy implements BalancingPolicy {
  readonly algorithm: Algorithm = "ROUND_ROBIN";
  private readonly current = new Map<MemberId, number>();

  pick<C extends Candidate>(candidates: readonly C[]): C | undefined {
    let best: C | undefined;
    let bestCurrent = 0;
    let total = 0;
    for (const candidate of candidates) {
      if (!takesNewClients(candidate)) continue;
      const value = (this.current.get(candidate.id) ?? 0) + candidate.weight;
      this.current.set(candidate.id, value);
      total += candidate.weight;
      if (best === undefined || value > bestCurrent) {
        best = candidate;
        bestCurrent = value;
      }
    }
    if (best === undefined) return undefined;
    this.current.set(best.id, bestCurrent - total);
    this.prune(candidates);
    return best;
  }

  /** The member the next {@link pick} would return, computed on copies of `current`. */
  peek<C extends Candidate>(candidates: readonly C[]): C | undefined {
    let best: C | undefined;
    let bestCurrent = 0;
    for (const candidate of candidates) {
      if (!takesNewClients(candidate)) continue;
      const value = (this.current.get(candidate.id) ?? 0) + candidate.weight;
      if (best === undefined || value > bestCurrent) {
        best = candidate;
        bestCurrent = value;
      }
    }
    return best;
  }

  /** Forgets members that have left, once the map has grown well past the pool's size. */
  private prune(candidates: readonly Candidate[]): void {
    if (this.current.size <= 2 * candidates.length + 16) return;
    const present = new Set(candidates.map((c) => c.id));
    for (const id of this.current.keys()) if (!present.has(id)) this.current.delete(id);
  }
}
