/**
 * Active and passive health checks (docs/reference/behaviour.md#health). Health is kept per member identity, so it survives a
 * reload, and is written only through the registry's narrow {@link HealthStatusPort}; balancers and
 * affinity read nothing but `eligible` / `keepsBindings`.
 *
 * Wiring (runtime/runtime.ts): make one manager with the member registry as its status port, hand it
 * to the data path as the {@link ConnectOutcomeSink}, call `sync(snapshot)` after every swap and
 * `stop()` on shutdown.
 */
import { type Clock, systemClock } from "../core/clock.js";
import type { Logger } from "../core/log.js";
import type { MemberId } from "../core/member.js";
import type { HealthMonitor } from "../core/model.js";
import type { Snapshot } from "../data/snapshot.js";
import type { ConnectOutcomeSink } from "../data/upstream/failure-sink.js";
import type { HealthStatusPort } from "../data/upstream/member-registry.js";
import type { MemberRuntime } from "../data/upstream/member-runtime.js";
import { HealthState, type Transition } from "./health-state.js";
import { type OutlierView, PassiveEjection } from "./passive-ejection.js";
import { DEFAULT_PROBES, type ProbeResult, type ProbeSet } from "./probes.js";
import { realTimers, type TimerHandle, type Timers } from "./timers.js";

/** The log line of every health change; tests and operators look for this exact message. */
export const HEALTH_CHANGED_MSG = "member health changed";

export interface HealthManagerOptions {
  /** Where health is written: the member registry. */
  readonly status: HealthStatusPort;
  readonly log: Logger;
  readonly clock?: Clock;
  readonly timers?: Timers;
  /** Probe functions by monitor type; tests replace them. */
  readonly probes?: Partial<ProbeSet>;
  /** Uniform in [0, 1): places the first probe within one `delay`. */
  readonly random?: () => number;
}

/** One monitored member. `generation` changes on every (re)start so stale probe results are dropped. */
interface Monitored {
  member: MemberRuntime;
  monitor: HealthMonitor;
  fingerprint: string;
  readonly state: HealthState;
  timer: TimerHandle | undefined;
  inFlight: AbortController | undefined;
  generation: number;
  /** Active probe results since the member became monitored (stickylb_health_checks_total). */
  probesOk: number;
  probesFailed: number;
}

/** Active probe results of one monitored member, for the metrics endpoint. */
export interface ProbeCount {
  readonly member: MemberRuntime;
  readonly ok: number;
  readonly failed: number;
}

/** What a member's health looks like to the manager (admin API, tests). */
export interface HealthView {
  readonly healthy: boolean;
  readonly failures: number;
  readonly successes: number;
  readonly monitor: HealthMonitor["type"];
}

function fingerprintOf(m: HealthMonitor): string {
  return JSON.stringify([m.type, m.delayMs, m.timeoutMs, m.urlPath, m.expectedCodes]);
}

export class HealthManager implements ConnectOutcomeSink {
  private readonly monitored = new Map<MemberId, Monitored>();
  private readonly status: HealthStatusPort;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly probes: ProbeSet;
  private readonly random: () => number;
  /** Members of pools without a monitor: passive failures eject them for a while. */
  private readonly ejection: PassiveEjection;
  private stopped = false;

  constructor(options: HealthManagerOptions) {
    this.status = options.status;
    this.log = options.log;
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? realTimers;
    this.probes = { ...DEFAULT_PROBES, ...options.probes };
    this.random = options.random ?? Math.random;
    this.ejection = new PassiveEjection(this.clock, this.timers, (member, t) => this.write(member, t));
  }

  /**
   * Brings the monitors in line with a snapshot: members of pools with a monitor are probed
   * (new ones from a jittered start; those that stay keep their state and schedule unless the
   * probe itself changed), monitors of members gone are stopped. A member left unhealthy in a pool
   * that no longer has a monitor is set healthy (unless passively ejected: its ejection ends on its
   * own); a member passively ejected whose pool gets a monitor is left to the probes.
   */
  sync(snapshot: Snapshot): void {
    if (this.stopped) return;
    const seen = new Set<MemberId>();
    const unmonitored = new Set<MemberId>();
    for (const pool of snapshot.pools.values()) {
      const monitor = pool.model.healthMonitor;
      for (const member of pool.members) {
        if (monitor === undefined) {
          unmonitored.add(member.id);
          if (!member.healthy && !this.ejection.ejected(member.id))
            this.write(member, { healthy: true, reason: "health monitor removed" });
          continue;
        }
        seen.add(member.id);
        const thresholds = { maxRetries: monitor.maxRetries, maxRetriesDown: monitor.maxRetriesDown };
        const existing = this.monitored.get(member.id);
        if (existing === undefined) {
          const state = new HealthState(thresholds);
          state.healthy = member.healthy;
          const m: Monitored = {
            member,
            monitor,
            fingerprint: fingerprintOf(monitor),
            state,
            timer: undefined,
            inFlight: undefined,
            generation: 0,
            probesOk: 0,
            probesFailed: 0,
          };
          this.monitored.set(member.id, m);
          this.start(m);
          continue;
        }
        existing.member = member;
        existing.state.thresholds = thresholds;
        const fingerprint = fingerprintOf(monitor);
        existing.monitor = monitor;
        if (existing.fingerprint !== fingerprint) {
          existing.fingerprint = fingerprint;
          this.start(existing);
        }
      }
    }
    for (const [id, m] of this.monitored) {
      if (seen.has(id)) continue;
      this.halt(m);
      this.monitored.delete(id);
    }
    for (const id of [...this.ejection.ids()]) if (!unmonitored.has(id)) this.ejection.forget(id);
  }

  /** Stops every monitor; nothing is probed or written afterwards. */
  stop(): void {
    this.stopped = true;
    this.ejection.stop();
    for (const m of this.monitored.values()) this.halt(m);
    this.monitored.clear();
  }

  /**
   * Passive health: a connect failure counts towards `maxRetriesDown` of the pool's monitor;
   * without a monitor, consecutive failures eject the member for a while (passive-ejection.ts).
   */
  connectFailed(member: MemberRuntime, reason: string): void {
    if (this.stopped) return;
    const m = this.monitored.get(member.id);
    if (m === undefined) {
      this.ejection.connectFailed(member, reason);
      return;
    }
    const t = m.state.fail(`passive: ${reason}`, true);
    member.consecutiveFailures = m.state.failures;
    if (t !== undefined) this.write(m.member, t);
  }

  /**
   * A connect that worked clears a streak of passive failures only: it never erases a failed probe
   * (a member may accept connections while its health URL fails) and never brings a member back.
   */
  connectSucceeded(member: MemberRuntime): void {
    if (this.stopped) return;
    const m = this.monitored.get(member.id);
    if (m === undefined) {
      this.ejection.connectSucceeded(member);
      return;
    }
    m.state.connectSucceeded();
    member.consecutiveFailures = m.state.failures;
  }

  /** The passive-ejection state of a member of a pool without a monitor. */
  outlier(id: MemberId): OutlierView | undefined {
    return this.ejection.view(id);
  }

  view(id: MemberId): HealthView | undefined {
    const m = this.monitored.get(id);
    if (m === undefined) return undefined;
    return {
      healthy: m.state.healthy,
      failures: m.state.failures,
      successes: m.state.successes,
      monitor: m.monitor.type,
    };
  }

  get size(): number {
    return this.monitored.size;
  }

  /** Probe results per monitored member. */
  *probeCounts(): IterableIterator<ProbeCount> {
    for (const m of this.monitored.values())
      yield { member: m.member, ok: m.probesOk, failed: m.probesFailed };
  }

  /** (Re)starts a member's schedule: the first probe at a random point within one `delay`. */
  private start(m: Monitored): void {
    this.halt(m);
    const generation = m.generation;
    m.timer = this.timers.after(Math.floor(this.random() * m.monitor.delayMs), () =>
      this.probe(m, generation),
    );
  }

  private halt(m: Monitored): void {
    m.generation++;
    m.timer?.cancel();
    m.timer = undefined;
    m.inFlight?.abort();
    m.inFlight = undefined;
  }

  private probe(m: Monitored, generation: number): void {
    if (generation !== m.generation || this.stopped) return;
    m.timer = undefined;
    const startedAt = this.clock.now();
    const monitor = m.monitor;
    const abort = new AbortController();
    m.inFlight = abort;
    const timeout = this.timers.after(monitor.timeoutMs, () => abort.abort());
    let pending: Promise<ProbeResult>;
    try {
      pending = this.probes[monitor.type](m.member, monitor, abort.signal);
    } catch (err) {
      pending = Promise.resolve({ ok: false, detail: (err as Error).message });
    }
    pending
      .catch((err: unknown): ProbeResult => ({ ok: false, detail: (err as Error).message }))
      .then((result) => {
        timeout.cancel();
        if (generation !== m.generation || this.stopped) return;
        m.inFlight = undefined;
        if (result.ok) m.probesOk++;
        else m.probesFailed++;
        const t = result.ok ? m.state.succeed() : m.state.fail(result.detail);
        m.member.consecutiveFailures = m.state.failures;
        if (t !== undefined) this.write(m.member, t);
        // Fixed rate: the next probe starts one `delay` after this one started (at once if it overran).
        const wait = Math.max(0, startedAt + monitor.delayMs - this.clock.now());
        m.timer = this.timers.after(wait, () => this.probe(m, generation));
      });
  }

  private write(member: MemberRuntime, t: Transition): void {
    if (member.healthy !== t.healthy) {
      const fields = { member: member.endpoint, pool: member.pool, healthy: t.healthy, reason: t.reason };
      if (t.healthy) this.log.info(fields, HEALTH_CHANGED_MSG);
      else this.log.warn(fields, HEALTH_CHANGED_MSG);
    }
    this.status.setHealthy(member.id, t.healthy, t.reason);
  }
}
