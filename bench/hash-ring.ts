import type { Candidate } from "../src/core/member.js";
import type { Algorithm } from "../src/core/model.js";
import { takesNewClients } from "../src/data/balancer/eligibility.js";
import { fmix32, hashKey } from "../src/data/balancer/hash.js";
import type { BalancingPolicy, PickContext } from "../src/data/balancer/policy.js";

/** Golden-ratio increment that spreads a member's virtual-node seeds over the 32-bit space. */
const VNODE_STEP = 0x9e3779b9;
/** Owner indexes are packed below the point in one float64 sort key (2^32 points × 2^20 owners < 2^53). */
const OWNER_BITS = 2 ** 20;

/**
 * HashRingPolicy is the measured alternative to {@link ConsistentHashPolicy}: a consistent-hash ring
 * with virtual nodes (Karger et al., STOC 1997; libketama's layout). It is not registered; the
 * benchmark and tests keep it honest (docs/consistent-hashing.md explains the choice).
 *
 * The ring holds every listed member; an ineligible or weight-0 member keeps its points and a
 * lookup walks clockwise to the next point whose member may take clients, so health changes move
 * only that member's clients. The ring is rebuilt when the set of endpoints changes; while the
 * caller passes the same array, a lookup is a binary search.
 */
export class HashRingPolicy implements BalancingPolicy {
  readonly algorithm: Algorithm = "SOURCE_IP";
  private endpoints: string[] = [];
  private ownerOf = new Map<string, number>();
  private points = new Uint32Array(0);
  private owners = new Uint32Array(0);
  private slots: Candidate[] = [];
  private lastCandidates: readonly Candidate[] | undefined;

  constructor(readonly vnodesPerMember = 160) {}

  pick<C extends Candidate>(candidates: readonly C[], ctx: PickContext): C | undefined {
    if (candidates !== this.lastCandidates) this.sync(candidates);
    const size = this.points.length;
    if (size === 0) return undefined;
    let at = lowerBound(this.points, hashKey(ctx.clientIp));
    for (let steps = 0; steps < size; steps++, at++) {
      if (at === size) at = 0;
      const slot = this.slots[this.owners[at]!];
      // Slots are filled only from the current `candidates: C[]` (see sync).
      if (slot !== undefined && takesNewClients(slot)) return slot as C;
    }
    return undefined;
  }

  /** The ring is a cache of the candidates: a pick decides nothing else. */
  peek<C extends Candidate>(candidates: readonly C[], ctx: PickContext): C | undefined {
    return this.pick(candidates, ctx);
  }

  /** Maps the ring's owners onto this call's candidate objects; rebuilds if the endpoint set changed. */
  private sync(candidates: readonly Candidate[]): void {
    this.lastCandidates = candidates;
    const slots: Candidate[] = new Array(this.endpoints.length);
    let filled = 0;
    for (const candidate of candidates) {
      const owner = this.ownerOf.get(candidate.endpoint);
      if (owner === undefined) {
        this.rebuild(candidates);
        return;
      }
      if (slots[owner] === undefined) filled++;
      else if (!outranks(candidate, slots[owner])) continue;
      slots[owner] = candidate;
    }
    if (filled === this.endpoints.length) this.slots = slots;
    else this.rebuild(candidates);
  }

  private rebuild(candidates: readonly Candidate[]): void {
    this.endpoints = [...new Set(candidates.map((c) => c.endpoint))].sort();
    this.ownerOf = new Map(this.endpoints.map((e, i) => [e, i]));
    const keys = new Float64Array(this.endpoints.length * this.vnodesPerMember);
    let k = 0;
    for (let owner = 0; owner < this.endpoints.length; owner++) {
      const seed = hashKey(this.endpoints[owner]!);
      for (let v = 0; v < this.vnodesPerMember; v++) {
        const point = fmix32(seed + Math.imul(v + 1, VNODE_STEP));
        // Endpoints are sorted, so equal points order by endpoint, never by the caller's order.
        keys[k++] = point * OWNER_BITS + owner;
      }
    }
    keys.sort();
    this.points = new Uint32Array(keys.length);
    this.owners = new Uint32Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      this.points[i] = Math.floor(key / OWNER_BITS);
      this.owners[i] = key % OWNER_BITS;
    }
    this.slots = [];
    this.sync(candidates);
  }
}

/** First index whose point is >= `value` (points.length when none is). */
function lowerBound(points: Uint32Array, value: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Among duplicate endpoints the smaller id fills the slot, whatever the order. */
function outranks(a: Candidate, b: Candidate): boolean {
  return a.id < b.id;
}
