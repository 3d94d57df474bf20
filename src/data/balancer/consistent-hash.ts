import type { Candidate } from "../../core/member.js";
import type { Algorithm } from "../../core/model.js";
import { takesNewClients } from "./eligibility.js";
import { fmix32, hashKey } from "./hash.js";
import type { BalancingPolicy, PickContext } from "./policy.js";

/**
 * ConsistentHashPolicy is the `SOURCE_IP` algorithm: rendezvous, or highest-random-weight, hashing
 * (Thaler & Ravishankar, "Using name-based mappings to increase hit rates", IEEE/ACM ToN 1998).
 * Each taking part member scores `fmix32(hash(clientIp) ^ hash(endpoint))`; the highest score wins,
 * an equal score goes to the smaller endpoint (then id), never to a position.
 *
 * Why rendezvous (docs/consistent-hashing.md has the measurements): a client's winner changes only
 * when the winner itself leaves or turns ineligible, or when a newcomer outscores it, so removing,
 * draining or failing one member moves exactly that member's clients and nobody else, and adding
 * one moves about 1/(N+1). There is no table to rebuild when health changes, the split is even
 * without virtual nodes, and the mapping depends only on the set of endpoints, so two stickylb
 * instances with the same members agree without talking. Weights are ignored except that weight 0
 * excludes (SPEC 6.1).
 *
 * Cost per pick: one hash of the IP, then per member a cached endpoint hash and one `fmix32`.
 */
export class ConsistentHashPolicy implements BalancingPolicy {
  readonly algorithm: Algorithm = "SOURCE_IP";
  /** `hash(endpoint)` by endpoint; cleared when it grows far beyond the pool (members that left). */
  private readonly endpointHashes = new Map<string, number>();
  /**
   * The candidate objects seen at each position on the last pick and their endpoint hashes. A
   * candidate's endpoint never changes, so when the caller passes the same objects again (the
   * member registry does) a pointer comparison replaces the map lookup. Only a cache: the
   * position never decides the pick.
   */
  private seen: (Candidate | undefined)[] = [];
  private seenHashes = new Uint32Array(0);

  pick<C extends Candidate>(candidates: readonly C[], ctx: PickContext): C | undefined {
    if (this.seenHashes.length < candidates.length) this.growSeen(candidates.length);
    const key = hashKey(ctx.clientIp);
    let best: C | undefined;
    let bestScore = -1;
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[i]!;
      if (!takesNewClients(candidate)) continue;
      const score = fmix32(key ^ this.endpointHashAt(i, candidate));
      if (score > bestScore || (score === bestScore && best !== undefined && outranks(candidate, best))) {
        best = candidate;
        bestScore = score;
      }
    }
    if (this.endpointHashes.size > 4 * candidates.length + 64) {
      this.endpointHashes.clear();
      this.seen.length = candidates.length;
    }
    return best;
  }

  /** The hash keeps no decision state (only caches of endpoint hashes): a pick changes nothing. */
  peek<C extends Candidate>(candidates: readonly C[], ctx: PickContext): C | undefined {
    return this.pick(candidates, ctx);
  }

  private endpointHashAt(index: number, candidate: Candidate): number {
    if (this.seen[index] === candidate) return this.seenHashes[index]!;
    let h = this.endpointHashes.get(candidate.endpoint);
    if (h === undefined) {
      h = hashKey(candidate.endpoint);
      this.endpointHashes.set(candidate.endpoint, h);
    }
    this.seen[index] = candidate;
    this.seenHashes[index] = h;
    return h;
  }

  private growSeen(length: number): void {
    const hashes = new Uint32Array(Math.max(length, 2 * this.seenHashes.length));
    hashes.set(this.seenHashes);
    this.seenHashes = hashes;
  }
}

/** The order-independent tie-break for equal scores: smaller endpoint, then smaller id. */
function outranks(a: Candidate, b: Candidate): boolean {
  return a.endpoint < b.endpoint || (a.endpoint === b.endpoint && a.id < b.id);
}
