import type { Clock } from "../../core/clock.js";
import type { MemberId } from "../../core/member.js";
import { memberIdOf } from "../../core/member.js";
import type { ConfigModel, MemberModel } from "../../core/model.js";
import { MemberRuntime } from "./member-runtime.js";

/**
 * The one narrow port through which health is written (active checks and passive failures).
 * Balancers and affinity only ever read `eligible` / `keepsBindings`.
 */
export interface HealthStatusPort {
  setHealthy(id: MemberId, healthy: boolean, reason: string): void;
}

/** The members of a configuration, worked out but not yet applied (see {@link MemberRegistry.plan}). */
export interface MemberPlan {
  /** Per pool name, the runtime members in configuration order. */
  readonly byPool: ReadonlyMap<string, readonly MemberRuntime[]>;
  commit(): void;
}

export type HealthListener = (member: MemberRuntime, healthy: boolean, reason: string) => void;

/**
 * All members by identity, across snapshots. `sync` is called with each new configuration: members
 * that stay keep their state, new ones start healthy, missing ones are marked removed and drain.
 */
export class MemberRegistry implements HealthStatusPort {
  private readonly members = new Map<MemberId, MemberRuntime>();
  private readonly listeners: HealthListener[] = [];
  /** Bumped on every health change and every sync: lets table-based policies skip re-checking sets. */
  eligibilityVersion = 0;

  constructor(private readonly clock: Clock) {}

  get(id: MemberId): MemberRuntime | undefined {
    return this.members.get(id);
  }

  all(): IterableIterator<MemberRuntime> {
    return this.members.values();
  }

  onHealthChange(listener: HealthListener): void {
    this.listeners.push(listener);
  }

  setHealthy(id: MemberId, healthy: boolean, reason: string): void {
    const member = this.members.get(id);
    if (member === undefined || member.healthy === healthy) return;
    member.healthy = healthy;
    this.eligibilityVersion++;
    member.downReason = healthy ? undefined : reason;
    for (const listener of this.listeners) listener(member, healthy, reason);
  }

  /**
   * Works out the members of a configuration without changing anything: members that stay are the
   * same objects (their state survives), new ones are created but not yet registered. `commit`,
   * called when the snapshot that holds them is swapped in, applies weights and drain flags and
   * starts the drain of members that left; a plan that is never committed leaves no trace.
   */
  plan(model: ConfigModel, drainTimeoutMs: number): MemberPlan {
    const byPool = new Map<string, MemberRuntime[]>();
    const wanted: { member: MemberRuntime; model: MemberModel }[] = [];
    const seen = new Set<MemberId>();
    for (const pool of model.pools) {
      const list: MemberRuntime[] = [];
      for (const m of pool.members) {
        const id = memberIdOf(pool.name, m.address, m.port);
        if (seen.has(id)) continue;
        seen.add(id);
        const member = this.members.get(id) ?? new MemberRuntime(pool.name, m.address, m.port, m.weight);
        wanted.push({ member, model: m });
        list.push(member);
      }
      byPool.set(pool.name, list);
    }
    return { byPool, commit: () => this.commit(wanted, seen, drainTimeoutMs) };
  }

  private commit(
    wanted: readonly { member: MemberRuntime; model: MemberModel }[],
    seen: ReadonlySet<MemberId>,
    drainTimeoutMs: number,
  ): void {
    this.eligibilityVersion++;
    for (const { member, model } of wanted) {
      this.members.set(member.id, member);
      member.weight = model.weight;
      member.name = model.name;
      member.draining = model.draining;
      member.removed = false;
      member.drainDeadline = Number.POSITIVE_INFINITY;
    }
    const now = this.clock.now();
    for (const member of this.members.values()) {
      if (seen.has(member.id) || member.removed) continue;
      member.removed = true;
      member.drainDeadline = now + drainTimeoutMs;
    }
    this.collect();
  }

  /** {@link plan} and commit at once (tests, and callers with no snapshot to swap). */
  sync(model: ConfigModel, drainTimeoutMs: number): ReadonlyMap<string, readonly MemberRuntime[]> {
    const plan = this.plan(model, drainTimeoutMs);
    plan.commit();
    return plan.byPool;
  }

  /**
   * Ends the drain of removed members: forgets those with nothing open, and closes what is still
   * open once the deadline has passed. Called on a timer by the runtime.
   */
  collect(): void {
    const now = this.clock.now();
    for (const member of this.members.values()) {
      if (!member.removed) continue;
      if (member.active === 0 && member.open.size === 0) {
        this.members.delete(member.id);
      } else if (now >= member.drainDeadline) {
        for (const c of member.open) c.destroy();
        member.open.clear();
        if (member.active === 0) this.members.delete(member.id);
      }
    }
  }
}
