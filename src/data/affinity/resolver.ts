import type { MemberId } from "../../core/member.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";

/** How an affinity decision went; the `result` label of stickylb_affinity_decisions_total (docs/reference/admin-api.md). */
export type AffinityResult = "hit" | "miss" | "expired" | "invalid" | "redispatch";

/**
 * What a key extractor (source-IP table, inserted cookie, application cookie) found for a client,
 * before any member is chosen.
 */
export type Proposal =
  | { readonly kind: "none" }
  | { readonly kind: "expired" }
  | { readonly kind: "invalid" }
  | { readonly kind: "bound"; readonly member: MemberId }
  /** The key named a member that this snapshot no longer has (removed, or another pool's). */
  | { readonly kind: "gone" };

export const NO_PROPOSAL: Proposal = { kind: "none" };
export const GONE: Proposal = { kind: "gone" };

export interface Placement {
  readonly member: MemberRuntime | undefined;
  /** Undefined when the pool has no session persistence. */
  readonly result: AffinityResult | undefined;
  /** True when the caller must (re)record the binding: a new placement of a sticky client. */
  readonly rebind: boolean;
}

/** What the resolver needs of a pool: member lookup and the balancing policy. */
export interface PlacementPool {
  member(id: MemberId): MemberRuntime | undefined;
  pick(clientIp: string, exclude?: MemberRuntime): MemberRuntime | undefined;
}

/**
 * The affinity resolver, written once in front of every balancer (docs/architecture.md): a bound member
 * is an override, honoured only while that member may keep its clients (docs/reference/behaviour.md#failure-of-a-bound-member: healthy,
 * weight > 0, still configured; draining is fine). Otherwise the policy picks and the caller
 * records the new binding.
 */
export function resolvePlacement(pool: PlacementPool, proposal: Proposal, clientIp: string): Placement {
  switch (proposal.kind) {
    case "bound": {
      const bound = pool.member(proposal.member);
      if (bound?.keepsBindings) return { member: bound, result: "hit", rebind: false };
      return { member: pool.pick(clientIp), result: "redispatch", rebind: true };
    }
    case "gone":
      return { member: pool.pick(clientIp), result: "redispatch", rebind: true };
    case "expired":
      return { member: pool.pick(clientIp), result: "expired", rebind: true };
    case "invalid":
      return { member: pool.pick(clientIp), result: "invalid", rebind: true };
    case "none":
      return { member: pool.pick(clientIp), result: "miss", rebind: true };
  }
}
