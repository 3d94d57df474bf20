import type { Clock } from "../core/clock.js";
import type { Logger } from "../core/log.js";
import type { MemberId } from "../core/member.js";
import type { ConfigModel } from "../core/model.js";
import { SnapshotHolder } from "../core/snapshot-holder.js";
import type { DataPathContext } from "../data/context.js";
import { FaultCounters } from "../data/fault-guard.js";
import { createProcessBudgets, type ProcessBudgets } from "../data/limits/connection-budget.js";
import { LISTENER_FACTORIES } from "../data/listener/factories.js";
import { ListenerSet } from "../data/listener/listener-set.js";
import type { Snapshot } from "../data/snapshot.js";
import { type ConnectOutcomeSink, IGNORE_CONNECT_OUTCOMES } from "../data/upstream/failure-sink.js";
import { DEFAULT_UPSTREAM_IDLE_MS, MemberConnectionPools } from "../data/upstream/member-connections.js";
import { MemberRegistry } from "../data/upstream/member-registry.js";
import { HealthManager } from "../health/health-manager.js";
import { planSnapshot } from "./build-snapshot.js";
import { resolveCookieKey } from "./cookie-key.js";
import { type BindingStoreWrapper, PoolStates } from "./pool-states.js";

export interface RuntimeOptions {
  readonly clock: Clock;
  readonly log: Logger;
  readonly drainTimeoutMs: number;
  readonly stateDir: string;
  readonly env?: NodeJS.ProcessEnv;
  /** A worker of `--workers N`: TCP-family listeners take connections from the primary. */
  readonly injectConnections?: boolean;
  /** Wraps new binding tables (`--workers`: APP_COOKIE replication). */
  readonly wrapBindings?: BindingStoreWrapper;
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
  /** The kernel plane, when the process runs one. */
  private readonly kernel: KernelSeam | undefined;

  constructor(private readonly options: RuntimeOptions) {
    this.registry = new MemberRegistry(options.clock);
    this.memberPools = new MemberConnectionPools(DEFAULT_UPSTREAM_IDLE_MS, options.clock);
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
    this.listeners = new ListenerSet(LISTENER_FACTORIES, ctx);
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
   * resolved or a certificate is unusable; a listener that cannot bind is reported after the others are bound.
   * With a kernel plane, userspace gets the listeners the kernel does not take, then the kernel is
   * programmed for the whole configuration (rejects if nft refuses it; the previous rules stay).
   */
  async apply(whole: ConfigModel): Promise<void> {
    const model = this.kernel === undefined ? whole : this.kernel.userspaceModel(whole);
    const needsKey = model.pools.some((p) => p.sessionPersistence?.type === "HTTP_COOKIE");
    // An explicit secret is read at every apply (it may change on reload); a generated key once.
    if (needsKey && (model.cookieSecret !== undefined || this.cookieKey === undefined)) {
      this.cookieKey = resolveCookieKey(model.cookieSecret, this.options.stateDir, this.options.env);
    }
    const plan = planSnapshot(
      model,
      this.version + 1,
      this.registry,
      this.poolStates,
      this.cookieKey,
      this.options.drainTimeoutMs,
    );
    // Built and checked: from here on nothing can refuse the configuration.
    this.version++;
    const snapshot = plan.snapshot;
    this.holder.swap(snapshot);
    plan.commit();
    this.memberPools.retain(memberIdsOf(snapshot));
    this.health.sync(snapshot);
    this.ready = false;
    await this.listeners.reconcile(snapshot, this.options.drainTimeoutMs);
    await this.kernel?.apply(whole);
    this.ready = true;
    this.startHousekeeping();
  }

  private startHousekeeping(): void {
    if (this.timer !== undefined) return;
    // Expiry is driven by deadlines, so one sweep a second costs only what has expired.
    this.timer = setInterval(() => {
      this.registry.collect();
      this.listeners.collect();
      for (const [, state] of this.poolStates.all()) state.bindings?.sweep();
    }, 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.health.stop();
    await this.listeners.shutdown(this.options.drainTimeoutMs);
    this.memberPools.destroyAll();
    await this.kernel?.close();
  }
}

function memberIdsOf(snapshot: Snapshot): Set<MemberId> {
  const ids = new Set<MemberId>();
  for (const pool of snapshot.pools.values()) for (const m of pool.members) ids.add(m.id);
  return ids;
}
