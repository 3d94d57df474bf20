import type { Clock } from "../../core/clock.js";
import type { MemberId } from "../../core/member.js";
import { memberIdOf } from "../../core/member.js";
import type { ConfigModel } from "../../core/model.js";
import { MemberRuntime } from "./member-runtime.js";

/**
 * The one narrow port through which health is written (active checks and passive failures).
 * Balancers and affinity only ever read `eligible` / `keepsBindings`.
 */
export interface HealthStatusPort {
  setHealthy(id: MemberId, healthy: boolean, reason: string): void;
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
    for (const listener of this.listeners) listener(member, healthy, reason);
  }

  /**
   * Brings the registry in line with a configuration. Returns, per pool name, the runtime members
   * in configuration order. `drainTimeoutMs` sets the deadline of members that disappear.
   */
  sync(model: ConfigModel, drainTimeoutMs: number): Map<string, MemberRuntime[]> {
    this.eligibilityVersion++;
    const byPool = new Map<string, MemberRuntime[]>();
    const seen = new Set<MemberId>();
    for (const pool of model.pools) {
      const list: MemberRuntime[] = [];
      for (const m of pool.members) {
        const id = memberIdOf(pool.name, m.address, m.port);
        if (seen.has(id)) continue;
        seen.add(id);
        let member = this.members.get(id);
        if (member === undefined) {
          member = new MemberRuntime(pool.name, m.address, m.port, m.weight);
          this.members.set(id, member);
        }
        member.weight = m.weight;
        member.draining = m.draining;
        member.removed = false;
        member.drainDeadline = Number.POSITIVE_INFINITY;
        list.push(member);
      }
      byPool.set(pool.name, list);
    }
    const now = this.clock.now();
    for (const member of this.members.values()) {
      if (seen.has(member.id) || member.removed) continue;
      member.removed = true;
      member.drainDeadline = now + drainTimeoutMs;
    }
    this.collect();
    return byPool;
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
