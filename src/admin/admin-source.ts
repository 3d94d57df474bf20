import type { PersistenceType } from "../core/model.js";
import type { ReloadCounters, Runtime } from "../runtime/runtime.js";
import type { ApiAnswer } from "./bindings-api.js";

/** What the admin API reads of the running process. */
export interface AdminSource {
  /** True once every listener of the current configuration is bound. */
  ready(): boolean;
  /** The running load balancer; without it only `/healthz` and `/readyz` answer. */
  readonly runtime?: Runtime;
  /** Configuration errors by kind (controller mode: `stickylb_config_errors_total{kind}`). */
  configErrors?(): ReadonlyMap<string, number>;
  /** Controller mode: whether this replica holds the leader election Lease (`stickylb_leader`). */
  leader?(): boolean;
  /** Reload counts when there is no runtime here (the primary of `--workers`). */
  reloads?(): ReloadCounters;
  /** The primary of `--workers`: status, metrics and bindings are answered by the workers. */
  readonly remote?: RemoteAdmin;
  /** `--l4-dataplane nftables`: counters and bindings of the listeners the kernel serves. */
  readonly kernel?: KernelAdmin;
}

/**
 * What the admin API reads of the kernel data plane (docs/kernel-dataplane.md). Reading the kernel
 * is asynchronous, so `/metrics` calls `refresh` first and the metric callbacks read its result.
 */
export interface KernelAdmin {
  refresh(): Promise<void>;
  /** New connections or flows per kernel listener, as of the last refresh. */
  connections(): ReadonlyMap<string, number>;
  /** Entries in the kernel's binding sets per pool, as of the last refresh. */
  bindings(): ReadonlyMap<string, number>;
  /** Whether a pool's bindings live in the kernel (then the bindings API asks it). */
  handlesPool(pool: string): boolean;
  /** The `kernel` part of `/api/v1/status`, as of the last refresh. */
  status(): KernelStatus;
  lookup(pool: string, key: string): Promise<ApiAnswer>;
  remove(pool: string, key: string): Promise<ApiAnswer>;
}

/** The kernel plane in `/api/v1/status`: its listeners with their traffic, its pools' bindings. */
export interface KernelStatus {
  /** The nftables table (`inet NAME`). */
  readonly table: string;
  readonly listeners: readonly {
    readonly name: string;
    readonly protocol: "TCP" | "UDP";
    readonly address: string;
    readonly port: number;
    readonly pool: string;
    /** New connections (TCP) or flows (UDP) the kernel sent to members, from its counter. */
    readonly connections: number;
  }[];
  readonly pools: readonly {
    readonly name: string;
    readonly algorithm: string;
    /** Entries of the pool's binding sets (SOURCE_IP persistence); null when it has none. */
    readonly bindings: number | null;
  }[];
}

/** The admin API of a process whose data path runs in other processes (`--workers N`). */
export interface RemoteAdmin {
  /** Prometheus text, aggregated over the processes. */
  metrics(): Promise<string>;
  /** The `/api/v1/status` document, aggregated. */
  status(): Promise<unknown>;
  lookup(pool: string, key: string): Promise<ApiAnswer>;
  remove(pool: string, key: string): Promise<ApiAnswer>;
  /** The pool's persistence type, for the audit log's key masking. */
  persistenceOf(pool: string): PersistenceType | "none";
}

/** The admin source of a runtime: `run`, `run --kubernetes` and `demo` all use this. */
export function runtimeAdminSource(
  runtime: Runtime,
  configErrors?: () => ReadonlyMap<string, number>,
): AdminSource {
  return {
    ready: () => runtime.isReady(),
    runtime,
    ...(configErrors === undefined ? {} : { configErrors }),
  };
}
