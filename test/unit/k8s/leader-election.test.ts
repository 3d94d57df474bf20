/**
 * The Lease state machine, driven step by step with a manual clock against an in-memory Lease
 * that behaves as the API server does (409 on a create of an existing Lease or on a stale
 * resourceVersion). The end-to-end race of two real processes is in test/e2e/k8s-replicas.test.ts.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import {
  LeaderElector,
  type LeaderTimings,
  LeaseConflict,
  type LeaseRecord,
  type LeaseSpec,
  type LeaseStore,
} from "../../../src/control/k8s/leader-election.js";
import { ManualClock } from "../../../src/core/clock.js";

class MemoryLease implements LeaseStore {
  record: LeaseRecord | undefined;
  private rv = 0;
  failing = false;
  async get(): Promise<LeaseRecord | undefined> {
    await Promise.resolve();
    if (this.failing) throw new Error("connection refused");
    return this.record;
  }
  async create(spec: LeaseSpec): Promise<LeaseRecord> {
    await Promise.resolve();
    if (this.failing) throw new Error("connection refused");
    if (this.record !== undefined) throw new LeaseConflict("exists");
    this.record = { spec, resourceVersion: String(++this.rv) };
    return this.record;
  }
  async update(spec: LeaseSpec, resourceVersion: string): Promise<LeaseRecord> {
    await Promise.resolve();
    if (this.failing) throw new Error("connection refused");
    if (this.record?.resourceVersion !== resourceVersion) throw new LeaseConflict("stale");
    this.record = { spec, resourceVersion: String(++this.rv) };
    return this.record;
  }
}

const TIMINGS: LeaderTimings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
const log = pino({ level: "silent" });

function elector(store: LeaseStore, clock: ManualClock, id: string, changes: boolean[] = []): LeaderElector {
  return new LeaderElector(store, id, TIMINGS, clock, log, (leader) => changes.push(leader));
}

describe("leader election through a Lease", () => {
  it("the first candidate creates the Lease; the other stays a follower while it is renewed", async () => {
    const store = new MemoryLease();
    const clock = new ManualClock(1_000_000);
    const changes: boolean[] = [];
    const a = elector(store, clock, "a", changes);
    const b = elector(store, clock, "b");
    expect(await a.step()).toBe("acquired");
    expect(store.record?.spec).toMatchObject({
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      leaseTransitions: 0,
    });
    expect(store.record?.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    for (let i = 0; i < 20; i++) {
      expect(await b.step()).toBe("held-by-other");
      expect(await a.step()).toBe("renewed");
      clock.advance(TIMINGS.retryPeriodMs);
    }
    expect([a.isLeader, b.isLeader]).toEqual([true, false]);
    expect(changes).toEqual([true]);
  });

  it("two candidates racing for one Lease: the API server takes one write, the other gets 409", async () => {
    const store = new MemoryLease();
    const clock = new ManualClock(1_000_000);
    const a = elector(store, clock, "a");
    const b = elector(store, clock, "b");
    const created = await Promise.all([a.step(), b.step()]);
    expect(created.sort()).toEqual(["acquired", "conflict"]);
    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);

    // The holder dies; both survivors see the Lease expire at the same moment and race again.
    const holder = a.isLeader ? "a" : "b";
    const c = elector(store, clock, "c");
    const d = elector(store, clock, "d");
    await Promise.all([c.step(), d.step()]);
    clock.advance(TIMINGS.leaseDurationMs);
    const raced = await Promise.all([c.step(), d.step()]);
    expect(raced.sort()).toEqual(["acquired", "conflict"]);
    expect(store.record?.spec.holderIdentity).not.toBe(holder);
    expect(store.record?.spec.leaseTransitions).toBe(1);
  });

  it("a dead leader's Lease is taken once the lease duration has passed since the follower saw it change", async () => {
    const store = new MemoryLease();
    const clock = new ManualClock(1_000_000);
    const a = elector(store, clock, "a");
    const b = elector(store, clock, "b");
    await a.step();
    await b.step();
    // a stops renewing now (killed). b keeps trying every retry period.
    let waited = 0;
    while ((await b.step()) !== "acquired") {
      clock.advance(TIMINGS.retryPeriodMs);
      waited += TIMINGS.retryPeriodMs;
      expect(waited).toBeLessThanOrEqual(TIMINGS.leaseDurationMs + TIMINGS.retryPeriodMs);
    }
    expect(waited).toBeGreaterThanOrEqual(TIMINGS.leaseDurationMs);
    expect(b.isLeader).toBe(true);
    // The old leader, back from a pause, finds the Lease held by b and steps down at once.
    expect(await a.step()).toBe("held-by-other");
    expect(a.isLeader).toBe(false);
  });

  it("judges expiry by its own clock, not by the renewTime written with another node's clock", async () => {
    const store = new MemoryLease();
    const clock = new ManualClock(1_000_000);
    const b = elector(store, clock, "b");
    // A holder whose clock is an hour behind renews it: the record changes, so it is alive.
    store.record = {
      spec: { holderIdentity: "skewed", renewTime: "2000-01-01T00:00:00.000000Z", leaseDurationSeconds: 15 },
      resourceVersion: "7",
    };
    expect(await b.step()).toBe("held-by-other");
    clock.advance(10_000);
    store.record = {
      spec: { ...store.record.spec, renewTime: "2000-01-01T00:00:10.000000Z" },
      resourceVersion: "8",
    };
    expect(await b.step()).toBe("held-by-other");
    clock.advance(14_999);
    expect(await b.step()).toBe("held-by-other");
    clock.advance(1);
    expect(await b.step()).toBe("acquired");
  });

  it("a leader that cannot reach the API server keeps leading until the renew deadline, then steps down", async () => {
    const store = new MemoryLease();
    const clock = new ManualClock(1_000_000);
    const changes: boolean[] = [];
    const a = elector(store, clock, "a", changes);
    await a.step();
    store.failing = true;
    clock.advance(TIMINGS.renewDeadlineMs - 1);
    expect(await a.step()).toBe("error");
    expect(a.isLeader).toBe(true);
    clock.advance(1);
    await a.step();
    expect(a.isLeader).toBe(false);
    expect(changes).toEqual([true, false]);
  });

  it("a leader that stops gives the Lease up, and a follower takes it at its next attempt", async () => {
    const store = new MemoryLease();
    const clock = new ManualClock(1_000_000);
    const a = elector(store, clock, "a");
    const b = elector(store, clock, "b");
    await a.step();
    await b.step();
    await a.stop();
    expect(store.record?.spec.holderIdentity).toBe("");
    clock.advance(TIMINGS.retryPeriodMs);
    expect(await b.step()).toBe("acquired");
  });
});
