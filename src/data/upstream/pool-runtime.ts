import type { MemberId } from "../../core/member.js";
import type { PoolModel } from "../../core/model.js";
import type { BindingStore } from "../affinity/binding-table.js";
import type { CookieCodec } from "../affinity/cookie-codec.js";
import { type FrontPool, PoolCounters } from "../affinity/placement-front.js";
import { type Stickiness, stickinessFor } from "../affinity/stickiness.js";
import type { BalancingPolicy } from "../balancer/policy.js";
import type { MemberRuntime } from "./member-runtime.js";

export { PoolCounters };

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
 * A pool as one snapshot sees it: its configuration, its current members, its stickiness
 * (chosen once from the persistence type) and the long-lived state. Immutable apart from the
 * state it shares with other snapshots.
 */
export class PoolRuntime implements FrontPool {
  readonly name: string;
  readonly stickiness: Stickiness;
  private readonly byId = new Map<MemberId, MemberRuntime>();
  /**
   * The context of every pick, refilled each time rather than made per request: a pick is
   * synchronous and a policy does not keep its context (`balancer/policy.ts`).
   */
  private readonly pickContext: { clientIp: string; eligibilityVersion: number | undefined } = {
    clientIp: "",
    eligibilityVersion: undefined,
  };

  constructor(
    readonly model: PoolModel,
    readonly members: readonly MemberRuntime[],
    readonly state: PoolState,
    /** The snapshot's HTTP_COOKIE codec (undefined: no pool inserts cookies). */
    cookieCodec?: CookieCodec,
    /** Where the members' eligibility version is read (the member registry); optional in tests. */
    private readonly versions?: { readonly eligibilityVersion: number },
  ) {
    this.name = model.name;
    for (const m of members) this.byId.set(m.id, m);
    this.stickiness = stickinessFor(model, members, state.bindings, cookieCodec);
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
    if (exclude === undefined) {
      const ctx = this.pickContext;
      ctx.clientIp = clientIp;
      ctx.eligibilityVersion = this.versions?.eligibilityVersion;
      return this.state.policy.pick(this.members, ctx);
    }
    const candidates = this.members.filter((m) => m !== exclude);
    return this.state.policy.pick(candidates, { clientIp });
  }

  /** What {@link pick} would return now, without a round-robin step (the admin API's explain). */
  peek(clientIp: string): MemberRuntime | undefined {
    return this.state.policy.peek(this.members, { clientIp });
  }
}
