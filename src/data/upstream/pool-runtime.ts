import type { MemberId } from "../../core/member.js";
import type { PoolModel } from "../../core/model.js";
import type { BindingStore } from "../affinity/binding-table.js";
import type { AffinityResult, Placement, PlacementPool, Proposal } from "../affinity/resolver.js";
import { NO_PROPOSAL, resolvePlacement } from "../affinity/resolver.js";
import type { BalancingPolicy } from "../balancer/policy.js";
import type { MemberRuntime } from "./member-runtime.js";

/** Counters of one pool that outlive snapshots (kept by pool name in the pool state registry). */
export class PoolCounters {
  readonly decisions: Record<AffinityResult, number> = {
    hit: 0,
    miss: 0,
    expired: 0,
    invalid: 0,
    redispatch: 0,
  };
  /** Clients turned away because no member was eligible (HTTP 503, TCP close, UDP drop). */
  noMember = 0;
}

/**
 * State of a pool that survives reloads: the binding table, the policy (round-robin position) and
 * counters. Recreated only when what it depends on changes (algorithm, persistence type/timeout).
 */
export interface PoolState {
  readonly fingerprint: string;
  readonly policy: BalancingPolicy;
  readonly bindings: BindingStore | undefined;
  readonly counters: PoolCounters;
}

/**
 * A pool as one snapshot sees it: its configuration, its current members and the long-lived
 * state. Immutable apart from the state it shares with other snapshots.
 */
export class PoolRuntime implements PlacementPool {
  readonly name: string;
  private readonly byId = new Map<MemberId, MemberRuntime>();

  constructor(
    readonly model: PoolModel,
    readonly members: readonly MemberRuntime[],
    readonly state: PoolState,
    /** Where the members' eligibility version is read (the member registry); optional in tests. */
    private readonly versions?: { readonly eligibilityVersion: number },
  ) {
    this.name = model.name;
    for (const m of members) this.byId.set(m.id, m);
  }

  get bindings(): BindingStore | undefined {
    return this.state.bindings;
  }

  get counters(): PoolCounters {
    return this.state.counters;
  }

  member(id: MemberId): MemberRuntime | undefined {
    return this.byId.get(id);
  }

  /** The policy's pick among eligible members, optionally leaving one out (the retry after a failure). */
  pick(clientIp: string, exclude?: MemberRuntime): MemberRuntime | undefined {
    if (exclude === undefined)
      return this.state.policy.pick(this.members, {
        clientIp,
        eligibilityVersion: this.versions?.eligibilityVersion,
      });
    const candidates = this.members.filter((m) => m !== exclude);
    return this.state.policy.pick(candidates, { clientIp });
  }

  /**
   * Places a client by its source IP: through the SOURCE_IP binding table when the pool has one,
   * else by the policy alone (which for the SOURCE_IP algorithm is the consistent hash).
   */
  placeBySourceIp(clientIp: string): Placement {
    const table = this.state.bindings;
    if (table === undefined || this.model.sessionPersistence?.type !== "SOURCE_IP") {
      const member = this.pick(clientIp);
      if (member === undefined) this.state.counters.noMember++;
      return { member, result: undefined, rebind: false };
    }
    const found = table.get(clientIp);
    const proposal: Proposal =
      found === undefined
        ? NO_PROPOSAL
        : found.expired
          ? { kind: "expired" }
          : { kind: "bound", member: found.member };
    const placement = resolvePlacement(this, proposal, clientIp);
    this.record(placement);
    // A hit was already touched by the lookup; only a new placement is recorded.
    if (placement.member !== undefined && placement.rebind) table.bind(clientIp, placement.member.id);
    return placement;
  }

  /** Counts an affinity decision and a refusal for lack of members. */
  record(placement: Placement): void {
    if (placement.result !== undefined) this.state.counters.decisions[placement.result]++;
    if (placement.member === undefined) this.state.counters.noMember++;
  }
}
