import type { ConfigModel, PoolModel } from "../core/model.js";
import { NftApplier } from "./applier.js";
import { checkKernelEnvironment } from "./environment.js";
import { deleteTableSync, type NftRun, nftCommand } from "./nft-command.js";
import { NftReader } from "./reader.js";
import {
  type KernelListener,
  type KernelPlan,
  type KernelPool,
  type RenderedRuleset,
  renderRuleset,
} from "./ruleset.js";
import { planeFor } from "./which-plane.js";

/** Whether a member is healthy now (the health manager's view), by pool and address. */
export type MemberHealth = (pool: string, address: string, port: number) => boolean;

/** What one apply decided: the listeners in the kernel, and those left to userspace with why. */
export interface KernelApplyResult {
  readonly kernel: readonly string[];
  /** TCP/UDP listeners that stay in userspace, with the reason to log once as a warning. */
  readonly userspace: readonly { readonly listener: string; readonly reason: string }[];
}

/** One binding read from the kernel. */
export interface KernelBinding {
  readonly client: string;
  /** `ADDRESS:PORT`. */
  readonly member: string;
  readonly expiresMs: number | undefined;
}

export interface KernelDataPlaneOptions {
  /** The table's name (family inet); `--nft-table`. */
  readonly table: string;
  /** The command that runs nft (default `nft`; tests prefix `ip netns exec NS`). */
  readonly command?: readonly string[];
  /** For tests: how nft is run. */
  readonly run?: NftRun;
}

/**
 * KernelDataPlane is what the runtime calls for `--l4-dataplane nftables`: `start` checks the
 * environment and creates (or replaces) the table; `apply` programs the TCP/UDP listeners the
 * kernel can serve from a configuration and the members' health, and says which stay in
 * userspace; the readers serve metrics and the bindings API; `close` deletes the table.
 * docs/kernel-dataplane.md describes the ruleset.
 */
export class KernelDataPlane {
  private readonly run: NftRun;
  private readonly applier: NftApplier;
  private readonly reader: NftReader;
  private readonly command: readonly string[];
  private started = false;
  private plan: KernelPlan | undefined;

  constructor(private readonly options: KernelDataPlaneOptions) {
    this.command = options.command ?? ["nft"];
    this.run = options.run ?? nftCommand(this.command);
    this.applier = new NftApplier(this.run);
    this.reader = new NftReader(this.run, options.table);
  }

  /** Checks nft, CAP_NET_ADMIN and nf_tables (throws KernelEnvironmentError), then installs an empty table. */
  async start(): Promise<void> {
    await checkKernelEnvironment(this.run);
    await this.applier.apply(renderRuleset({ table: this.options.table, listeners: [], pools: [] }));
    this.started = true;
  }

  /** Programs the kernel for this configuration and health, in one transaction. */
  async apply(model: ConfigModel, health: MemberHealth): Promise<KernelApplyResult> {
    const { plan, result } = kernelPlanOf(this.options.table, model, health);
    await this.applier.apply(renderRuleset(plan));
    this.plan = plan;
    return result;
  }

  /** The listeners the kernel serves now. */
  listeners(): readonly KernelListener[] {
    return this.plan?.listeners ?? [];
  }

  /** The pools the kernel serves now, by name. */
  pools(): ReadonlyMap<string, KernelPool> {
    return new Map((this.plan?.pools ?? []).map((p) => [p.name, p]));
  }

  /** New connections or flows per kernel listener, with one read of the counters. */
  async connectionCounts(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const current = this.current;
    if (current === undefined) return counts;
    const values = await this.reader.counters();
    for (const [listener, counter] of current.counters) counts.set(listener, values.get(counter) ?? 0);
    return counts;
  }

  /** New connections (TCP) or flows (UDP) the kernel has sent to members for a listener. */
  async connectionsTotal(listener: string): Promise<number | undefined> {
    const counter = this.current?.counters.get(listener);
    if (counter === undefined) return undefined;
    return (await this.reader.counters()).get(counter) ?? 0;
  }

  /** Every binding of a pool (ROUND_ROBIN with SOURCE_IP persistence), read from the member sets. */
  async bindings(pool: string): Promise<KernelBinding[]> {
    const out: KernelBinding[] = [];
    for (const set of this.setsOf(pool))
      for (const e of await this.reader.elements(set.set))
        out.push({ client: e.client, member: set.member, expiresMs: e.expiresMs });
    return out;
  }

  /** The member a client is bound to, or undefined. */
  async lookupBinding(pool: string, client: string): Promise<string | undefined> {
    for (const set of this.setsOf(pool)) if (await this.reader.has(set.set, client)) return set.member;
    return undefined;
  }

  /** Removes a client's binding (it is placed afresh on its next connection); false if it had none. */
  async deleteBinding(pool: string, client: string): Promise<boolean> {
    let removed = false;
    for (const set of this.setsOf(pool)) if (await this.reader.remove(set.set, client)) removed = true;
    return removed;
  }

  /** Deletes the table (on SIGTERM/SIGINT). */
  async close(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.applier.remove(this.options.table);
  }

  /** Deletes the table synchronously, for a fatal error's exit path where nothing can be awaited. */
  closeSync(): void {
    if (!this.started) return;
    this.started = false;
    deleteTableSync(this.options.table, this.command);
  }

  private get current(): RenderedRuleset | undefined {
    return this.applier.current;
  }

  private setsOf(pool: string) {
    return (this.current?.bindingSets ?? []).filter((s) => s.pool === pool && s.keepsBindings);
  }
}

/** The pure half of `apply`: which listeners go to the kernel, and the plan for them. */
export function kernelPlanOf(
  table: string,
  model: ConfigModel,
  health: MemberHealth,
): { plan: KernelPlan; result: KernelApplyResult } {
  const pools = new Map(model.pools.map((p) => [p.name, p]));
  const listeners: KernelListener[] = [];
  const kernel: string[] = [];
  const userspace: { listener: string; reason: string }[] = [];
  const used = new Set<string>();
  for (const l of model.listeners) {
    const pool = l.defaultPool === undefined ? undefined : pools.get(l.defaultPool);
    const choice = planeFor(l, pool);
    if (choice.plane === "userspace") {
      if (choice.reason !== undefined) userspace.push({ listener: l.name, reason: choice.reason });
      continue;
    }
    if (pool === undefined || (l.protocol !== "TCP" && l.protocol !== "UDP")) continue;
    kernel.push(l.name);
    used.add(pool.name);
    listeners.push({
      name: l.name,
      protocol: l.protocol,
      address: l.address,
      port: l.port,
      pool: pool.name,
      preserveClientIp: l.preserveClientIp ?? false,
    });
  }
  const kernelPools = [...used].map((name) => kernelPool(pools.get(name)!, health));
  return { plan: { table, listeners, pools: kernelPools }, result: { kernel, userspace } };
}

function kernelPool(pool: PoolModel, health: MemberHealth): KernelPool {
  const persistence =
    pool.algorithm === "ROUND_ROBIN" && pool.sessionPersistence?.type === "SOURCE_IP"
      ? pool.sessionPersistence
      : undefined;
  return {
    name: pool.name,
    algorithm: pool.algorithm === "SOURCE_IP" ? "SOURCE_IP" : "ROUND_ROBIN",
    ...(persistence === undefined
      ? {}
      : { persistenceTimeoutMs: persistence.persistenceTimeoutMs, maxBindings: persistence.maxBindings }),
    members: pool.members.map((m) => ({
      address: m.address,
      port: m.port,
      weight: m.weight,
      healthy: health(pool.name, m.address, m.port),
      draining: m.draining,
    })),
  };
}
