/**
 * Leader election through a `coordination.k8s.io/v1` Lease, the algorithm of client-go's
 * `leaderelection` package: every replica serves traffic, but only the Lease holder writes what
 * must be written once (status, Events). A candidate takes the Lease when its holder has not
 * renewed it for the lease duration; the holder renews every retry period and steps down when it
 * could not renew for the renew deadline, which is shorter than the lease duration, so two
 * replicas never both believe they lead. Every write carries the resourceVersion it read: of two
 * racing candidates the API server accepts one and answers 409 Conflict to the other.
 *
 * Expiry is judged by the local clock from the moment this replica saw the record change (as
 * client-go does), never by comparing `renewTime` with the local clock, so clock skew between
 * nodes does not matter.
 */
import type { Clock } from "../../core/clock.js";
import type { Logger } from "../../core/log.js";

export interface LeaseSpec {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions?: number;
}

export interface LeaseRecord {
  readonly spec: LeaseSpec;
  readonly resourceVersion: string;
}

/** Thrown by a store when the write lost a race (HTTP 409: create of an existing Lease, or a stale resourceVersion). */
export class LeaseConflict extends Error {}

/** The Lease object, read and written through the API server. */
export interface LeaseStore {
  get(): Promise<LeaseRecord | undefined>;
  create(spec: LeaseSpec): Promise<LeaseRecord>;
  update(spec: LeaseSpec, resourceVersion: string): Promise<LeaseRecord>;
}

export interface LeaderTimings {
  /** How long a Lease not renewed stays with its holder (15 s). */
  readonly leaseDurationMs: number;
  /** How long the leader keeps leading while renewals fail (10 s). */
  readonly renewDeadlineMs: number;
  /** Time between two attempts to acquire or renew (2 s). */
  readonly retryPeriodMs: number;
}

/** client-go's defaults: a dead leader is replaced within lease duration + retry period (17 s). */
export const DEFAULT_LEADER_TIMINGS: LeaderTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

export type StepOutcome = "acquired" | "renewed" | "held-by-other" | "conflict" | "error";

/** RFC 3339 with microseconds, the form of a Lease's MicroTime fields. */
export const microTime = (ms: number): string => `${new Date(ms).toISOString().slice(0, -1)}000Z`;

export class LeaderElector {
  private leader = false;
  /** The record as last seen (holder, renew time, version) and when it was first seen so. */
  private observedMark = "";
  private observedAt = 0;
  private lastRenewAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly store: LeaseStore,
    readonly identity: string,
    private readonly timings: LeaderTimings,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly changed: (leader: boolean) => void,
  ) {}

  get isLeader(): boolean {
    return this.leader;
  }

  /** Runs a step now and then every retry period until `stop`. */
  start(): void {
    const loop = async (): Promise<void> => {
      if (this.stopped) return;
      await this.step();
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.timings.retryPeriodMs);
    };
    void loop();
  }

  /**
   * Stops; a leader gives the Lease up (holder emptied) so that another replica takes over at its
   * next retry instead of waiting out the lease duration, as on every rolling update.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (!this.leader) return;
    this.setLeader(false);
    try {
      const current = await this.store.get();
      if (current?.spec.holderIdentity !== this.identity) return;
      await this.store.update(
        {
          ...current.spec,
          holderIdentity: "",
          leaseDurationSeconds: 1,
          renewTime: microTime(this.clock.now()),
        },
        current.resourceVersion,
      );
      this.log.info({ lease: this.identity }, "leader election: Lease released");
    } catch (err) {
      this.log.warn({ err, code: "SLB_ERR_K8S_API" }, "leader election: could not release the Lease");
    }
  }

  /** One attempt to acquire or renew; public for tests that drive it with a manual clock. */
  async step(): Promise<StepOutcome> {
    let outcome: StepOutcome;
    try {
      outcome = await this.tryAcquireOrRenew();
    } catch (err) {
      outcome = err instanceof LeaseConflict ? "conflict" : "error";
      if (outcome === "error")
        this.log.warn({ err, code: "SLB_ERR_K8S_API" }, "leader election: Lease not readable or writable");
    }
    const now = this.clock.now();
    if (outcome === "acquired" || outcome === "renewed") {
      this.lastRenewAt = now;
      this.setLeader(true);
    } else if (outcome === "held-by-other") this.setLeader(false);
    else if (this.leader && now - this.lastRenewAt >= this.timings.renewDeadlineMs) this.setLeader(false);
    return outcome;
  }

  private async tryAcquireOrRenew(): Promise<StepOutcome> {
    const now = this.clock.now();
    const seconds = Math.max(1, Math.ceil(this.timings.leaseDurationMs / 1000));
    const current = await this.store.get();
    if (current === undefined) {
      await this.store.create({
        holderIdentity: this.identity,
        leaseDurationSeconds: seconds,
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0,
      });
      return "acquired";
    }
    const spec = current.spec;
    const mark = `${spec.holderIdentity ?? ""}|${spec.renewTime ?? ""}|${current.resourceVersion}`;
    if (mark !== this.observedMark) {
      this.observedMark = mark;
      this.observedAt = now;
    }
    const holder = spec.holderIdentity ?? "";
    const mine = holder === this.identity;
    // A released Lease (no holder) is free at once; the duration it carries is then 1 s at most.
    const expired = holder === "" || now >= this.observedAt + this.timings.leaseDurationMs;
    if (!mine && !expired) return "held-by-other";
    await this.store.update(
      {
        holderIdentity: this.identity,
        leaseDurationSeconds: seconds,
        acquireTime: mine && spec.acquireTime !== undefined ? spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
      current.resourceVersion,
    );
    return mine ? "renewed" : "acquired";
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.log.info(
      { identity: this.identity, leader },
      leader ? "leader election: now the leader" : "leader election: no longer the leader",
    );
    this.changed(leader);
  }
}
