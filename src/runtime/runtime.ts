import type { Clock } from "../core/clock.js";
import type { Logger } from "../core/log.js";
import type { MemberId } from "../core/member.js";
import { type ConfigModel, carriesToken } from "../core/model.js";
import { SnapshotHolder } from "../core/snapshot-holder.js";
import type { DataPathContext } from "../data/context.js";
import { FaultCounters } from "../data/fault-guard.js";
import { createProcessBudgets, fitBudgets, type ProcessBudgets } from "../data/limits/connection-budget.js";
import { listenerKinds } from "../data/limits/process-limits.js";
import type { RetryTimers } from "../data/listener/bind-retry.js";
import { LISTENER_FACTORIES } from "../data/listener/factories.js";
import { ListenerSet } from "../data/listener/listener-set.js";
import type { LiveLabels } from "../data/listener/live-labels.js";
import type { Snapshot } from "../data/snapshot.js";
import { type ConnectOutcomeSink, IGNORE_CONNECT_OUTCOMES } from "../data/upstream/failure-sink.js";
import { DEFAULT_UPSTREAM_IDLE_MS, MemberConnectionPools } from "../data/upstream/member-connections.js";
import { MemberRegistry } from "../data/upstream/member-registry.js";
import { HealthManager } from "../health/health-manager.js";
import { planSnapshot, type SnapshotPlan } from "./build-snapshot.js";
import { resolveCookieKey } from "./cookie-key.js";
import { type BindingStoreWrapper, PoolStates } from "./pool-states.js";
import { StateStoreLink, testLookupBudget } from "./state-store-link.js";

export interface RuntimeOptions {
  readonly clock: Clock;
  readonly log: Logger;
  readonly drainTimeoutMs: number;
  readonly stateDir: string;
  readonly env?: NodeJS.ProcessEnv;
  /** A worker of `--workers N`: TCP-family listeners take connections from the primary. */
  readonly injectConnections?: boolean;
  /** Wraps new binding tables (`--workers`: APP_COOKIE replication, when no state store is used). */
  readonly wrapBindings?: BindingStoreWrapper;
  /** Timers of the listeners' bind retries (unit tests inject their own). */
  readonly bindRetryTimers?: RetryTimers;
  /** `--state-store URL`: wins over the configuration's `stateStore.url`. */
  readonly stateStoreUrl?: string;
  /**
   * `--l4-dataplane nftables`: makes the kernel plane's seam from the member registry (whose health
   * it follows). The listeners the kernel can serve go to it, the others stay here
   * (docs/kernel-dataplane.md); `stop` deletes its table.
   */
  readonly kernel?: (registry: MemberRegistry) => KernelSeam;
}

/** What the runtime needs of a kernel data plane (src/kernel/kernel-wiring.ts). */
export interface KernelSeam {
  /** The configuration userspace serves: every listener the kernel does not take. */
  userspaceModel(model: ConfigModel): ConfigModel;
  /** Programs the kernel for the whole configuration; rejects if the kernel refuses it. */
  apply(model: ConfigModel): Promise<void>;
  close(): Promise<void>;
}

/** Counts of configuration reloads by result (stickylb_config_reloads_total). */
export interface ReloadCounters {
  ok: number;
  error: number;
}

const EMPTY_MODEL: ConfigModel = { listeners: [], pools: [] };

/**
 * The running load balancer: member registry, pool states, the snapshot holder and the bound
 * listeners. `apply` is the one way a configuration enters (start, SIGHUP, a Kubernetes change):
 * build a whole snapshot, swap one reference, then reconcile listeners.
 */
export class Runtime {
  readonly registry: MemberRegistry;
  readonly poolStates: PoolStates;
  readonly holder: SnapshotHolder<Snapshot>;
  readonly listeners: ListenerSet;
  readonly reloads: ReloadCounters = { ok: 0, error: 0 };
  /** Active and passive health checks; the data path reports connect outcomes to it. */
  readonly health: HealthManager;
  /** Keep-alive connections towards members, by member identity (HTTP forwarding). */
  readonly memberPools: MemberConnectionPools;
  /** Bugs contained on the data path, by site (stickylb_internal_errors_total). */
  readonly faults = new FaultCounters();
  private version = 0;
  private ready = false;
  private timer: NodeJS.Timeout | undefined;
  private cookieKey: Buffer | undefined;
  private outcomes: ConnectOutcomeSink = IGNORE_CONNECT_OUTCOMES;
  /** Bounds on UDP flows and client connections that fit the process's open-file limit. */
  readonly budgets: ProcessBudgets;
  /** The shared state store, when one is configured (docs/shared-state.md). */
  readonly stateStore: StateStoreLink;
  /** Applies one at a time: a reload and a cookie-key change may both ask for one. */
  private applying: Promise<void> = Promise.resolve();
  private stopped = false;
  /** The kernel plane, when the process runs one. */
  private readonly kernel: KernelSeam | undefined;

  constructor(private readonly options: RuntimeOptions) {
    this.registry = new MemberRegistry(options.clock);
    this.memberPools = new MemberConnectionPools(DEFAULT_UPSTREAM_IDLE_MS, options.clock);
    this.stateStore = new StateStoreLink(
      options.log,
      options.clock,
      options.stateStoreUrl,
      testLookupBudget(options.env ?? process.env),
    );
    this.poolStates = new PoolStates(options.clock, options.wrapBindings);
    this.budgets = createProcessBudgets(options.log);
    this.holder = new SnapshotHolder<Snapshot>({
      version: 0,
      model: EMPTY_MODEL,
      listeners: new Map(),
      compiled: new Map(),
      pools: new Map(),
      cookieKey: undefined,
      cookieCodec: undefined,
    });
    const ctx: DataPathContext = {
      holder: this.holder,
      clock: options.clock,
      log: options.log,
      memberPools: this.memberPools,
      faults: this.faults,
      // Read through a getter so that the health module can be attached after construction.
      outcomes: {
        connectFailed: (m, reason) => this.outcomes.connectFailed(m, reason),
        connectSucceeded: (m) => this.outcomes.connectSucceeded(m),
      },
      ...(options.injectConnections === true ? { injected: true } : {}),
      budgets: this.budgets,
    };
    this.listeners = new ListenerSet(LISTENER_FACTORIES, ctx, options.bindRetryTimers);
    this.health = new HealthManager({ status: this.registry, log: options.log, clock: options.clock });
    this.outcomes = this.health;
    this.kernel = options.kernel?.(this.registry);
  }

  get current(): Snapshot {
    return this.holder.current;
  }

  isReady(): boolean {
    return this.ready;
  }

  setConnectOutcomeSink(sink: ConnectOutcomeSink): void {
    this.outcomes = sink;
  }

  /**
   * Applies a validated configuration. Throws (and changes nothing) when the cookie key cannot be
   * resolved or a certificate is unusable. A listener that cannot bind does not refuse it: the
   * listener set reports it and retries while the others serve, and the runtime is ready once
   * every listener has had its first attempt. With a kernel plane, userspace gets the listeners the
   * kernel does not take, then the kernel is programmed for the whole configuration (rejects if nft
   * refuses it; the previous rules stay).
   */
  apply(model: ConfigModel): Promise<void> {
    const run = this.applying.then(() => this.applyNow(model));
    this.applying = run.catch(() => {});
    return run;
  }

  private async applyNow(whole: ConfigModel): Promise<void> {
    const model = this.kernel === undefined ? whole : this.kernel.userspaceModel(whole);
    const store = this.stateStore.reconcile(model);
    const previousKey = this.cookieKey;
    let plan: SnapshotPlan;
    let unshare = (): void => {};
    try {
      if (store.changed) {
        unshare = this.poolStates.share(this.stateStore.current?.bindings);
        // A key taken from the previous store (or none) is asked again of the new one.
        if (model.cookieSecret === undefined) this.cookieKey = undefined;
      }
      const needsKey = model.pools.some((p) => carriesToken(p.sessionPersistence));
      // An explicit secret is read at every apply (it may change on reload); a generated or shared key once.
      if (needsKey && (model.cookieSecret !== undefined || this.cookieKey === undefined)) {
        const local = resolveCookieKey(model.cookieSecret, this.options.stateDir, this.options.env);
        const shared =
          model.cookieSecret === undefined
            ? await this.stateStore.cookieKey(local, (key) => this.cookieKeyChanged(key))
            : undefined;
        this.cookieKey = shared ?? local;
      }
      plan = planSnapshot(
        model,
        this.version + 1,
        this.registry,
        this.poolStates,
        this.cookieKey,
        this.options.drainTimeoutMs,
      );
    } catch (e) {
      if (store.changed) {
        store.rollback();
        unshare();
        this.cookieKey = previousKey;
      }
      throw e;
    }
    // Built and checked: from here on nothing can refuse the configuration.
    this.version++;
    const snapshot = plan.snapshot;
    this.holder.swap(snapshot);
    plan.commit();
    this.memberPools.retain(memberIdsOf(snapshot));
    this.health.sync(snapshot);
    fitBudgets(
      this.budgets,
      listenerKinds(snapshot.model.listeners.map((l) => l.protocol)),
      this.options.log,
    );
    this.ready = false;
    // Closed once its pools are out of service; its writes get a moment to reach the store.
    if (store.retired !== undefined) void store.retired.close().catch(() => {});
    await this.listeners.reconcile(snapshot, this.options.drainTimeoutMs);
    await this.kernel?.apply(whole);
    this.ready = true;
    this.startHousekeeping();
  }

  /**
   * The shared cookie key replaced the one in use (a replica that started while the store was
   * unreachable and now reaches it): a new snapshot with the same model carries the new codec.
   */
  private cookieKeyChanged(key: Buffer): void {
    if (this.stopped || this.version === 0) return;
    this.cookieKey = key;
    const model = this.current.model;
    this.apply(model).then(
      () => this.options.log.info({ version: this.current.version }, "HTTP_COOKIE key changed: new snapshot"),
      (err: unknown) => this.options.log.error({ err }, "could not apply the new HTTP_COOKIE key"),
    );
  }

  private startHousekeeping(): void {
    if (this.timer !== undefined) return;
    // Expiry is driven by deadlines, so one sweep a second costs only what has expired.
    this.timer = setInterval(() => this.collect(), 1000);
    this.timer.unref();
  }

  /**
   * Housekeeping, once a second: forgets members and listeners whose drain has ended and expired
   * bindings, then the counter rows that named what is gone (so that `/metrics` stays the size of
   * the configuration, whatever the churn of members and pools).
   */
  collect(): void {
    this.registry.collect();
    this.listeners.collect();
    for (const [, state] of this.poolStates.all()) state.bindings?.sweep();
    this.listeners.forgetSeries(liveLabelsOf(this.holder.current, this.registry));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.health.stop();
    await this.listeners.shutdown(this.options.drainTimeoutMs);
    this.memberPools.destroyAll();
    await this.stateStore.close();
    await this.kernel?.close();
  }
}

/** The pools and members metrics may name: configured now, or still held by the registry (draining). */
function liveLabelsOf(snapshot: Snapshot, registry: MemberRegistry): LiveLabels {
  const pools = new Set(snapshot.pools.keys());
  const members = new Map<string, Set<string>>();
  for (const m of registry.all()) {
    pools.add(m.pool);
    let endpoints = members.get(m.pool);
    if (endpoints === undefined) {
      endpoints = new Set();
      members.set(m.pool, endpoints);
    }
    endpoints.add(m.endpoint);
  }
  return {
    hasPool: (pool) => pools.has(pool),
    hasMember: (pool, member) => members.get(pool)?.has(member) ?? false,
  };
}

function memberIdsOf(snapshot: Snapshot): Set<MemberId> {
  const ids = new Set<MemberId>();
  for (const pool of snapshot.pools.values()) for (const m of pool.members) ids.add(m.id);
  return ids;
}
