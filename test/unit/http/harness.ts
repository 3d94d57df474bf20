import pino from "pino";
import { ManualClock } from "../../../src/core/clock.js";
import type { MemberId } from "../../../src/core/member.js";
import type {
  ConfigModel,
  ListenerModel,
  MemberModel,
  PoolModel,
  SessionPersistence,
} from "../../../src/core/model.js";
import { SnapshotHolder } from "../../../src/core/snapshot-holder.js";
import type { DataPathContext } from "../../../src/data/context.js";
import { FaultCounters } from "../../../src/data/fault-guard.js";
import { startHttpListener } from "../../../src/data/listener/http-listener.js";
import { HttpListenerCounters } from "../../../src/data/proxy/http-counters.js";
import type { Snapshot } from "../../../src/data/snapshot.js";
import { MemberConnectionPools } from "../../../src/data/upstream/member-connections.js";
import { MemberRegistry } from "../../../src/data/upstream/member-registry.js";
import type { MemberRuntime } from "../../../src/data/upstream/member-runtime.js";
import { buildSnapshot } from "../../../src/runtime/build-snapshot.js";
import { PoolStates } from "../../../src/runtime/pool-states.js";

export const SOURCE = { file: "/tmp/test.yaml", object: "LoadBalancer/test" };

export function listenerModel(over: Partial<ListenerModel> = {}): ListenerModel {
  return {
    name: "web",
    protocol: "HTTP",
    address: "127.0.0.1",
    port: 0,
    defaultPool: "web",
    rules: [],
    tls: [],
    proxyProtocol: false,
    timeouts: { idleMs: 60_000, clientMs: 60_000, memberMs: 60_000, connectMs: 2_000 },
    maxFlows: 1000,
    accessLog: false,
    source: SOURCE,
    ...over,
  };
}

export function poolModel(
  name: string,
  members: readonly { address: string; port: number }[],
  over: Partial<PoolModel> = {},
): PoolModel {
  return {
    name,
    algorithm: "ROUND_ROBIN",
    members: members.map(
      (m): MemberModel => ({ address: m.address, port: m.port, weight: 1, draining: false }),
    ),
    source: SOURCE,
    ...over,
  };
}

export function persistence(over: Partial<SessionPersistence>): SessionPersistence {
  return {
    type: "HTTP_COOKIE",
    persistenceTimeoutMs: 60_000,
    cookieName: "STICKYLB",
    cookie: { path: "/", domain: "", sameSite: "Lax", secure: "auto", httpOnly: true },
    maxBindings: 1000,
    ...over,
  };
}

export interface TestProxy {
  readonly port: number;
  readonly counters: HttpListenerCounters;
  readonly clock: ManualClock;
  readonly registry: MemberRegistry;
  /** Connect failures reported to the passive health sink, as `ENDPOINT REASON`. */
  readonly failures: string[];
  snapshot(): Snapshot;
  /** Applies a new configuration (a reload) with the same listener. */
  apply(model: ConfigModel): void;
  member(pool: string, port: number): MemberRuntime;
  close(): Promise<void>;
}

/**
 * The HTTP data path in process: a real listener on port 0 over a snapshot built by the real
 * snapshot builder, with a manual clock (cookie issue times, binding expiry).
 */
export async function startProxy(model: ConfigModel, cookieKey?: Buffer): Promise<TestProxy> {
  const clock = new ManualClock(1_700_000_000_000);
  const registry = new MemberRegistry(clock);
  const states = new PoolStates(clock);
  let version = 1;
  const failures: string[] = [];
  const holder = new SnapshotHolder<Snapshot>(
    buildSnapshot(model, version, registry, states, cookieKey, 1000),
  );
  const agents = new MemberConnectionPools();
  const ctx: DataPathContext = {
    holder,
    memberPools: agents,
    faults: new FaultCounters(),
    clock,
    log: pino({ level: "silent" }),
    // Reported, not acted on: health is not this module's job; tests read what was reported.
    outcomes: {
      connectFailed: (m, reason) => failures.push(`${m.endpoint} ${reason}`),
      connectSucceeded: () => {},
    },
  };
  const counters = new HttpListenerCounters();
  const listener = model.listeners[0]!;
  const running = await startHttpListener(listener, ctx, { counters, agents });
  return {
    port: running.port,
    counters,
    clock,
    registry,
    failures,
    snapshot: () => holder.current,
    apply: (next) => {
      version++;
      const snapshot = buildSnapshot(next, version, registry, states, cookieKey, 1000);
      holder.swap(snapshot);
      // What the runtime does after a swap: kept listeners update, gone members' pools close.
      running.update?.(snapshot);
      const ids = new Set<string>();
      for (const pool of snapshot.pools.values()) for (const m of pool.members) ids.add(m.id);
      agents.retain(ids as Set<MemberId>);
    },
    member: (pool, port) => {
      for (const m of registry.all()) if (m.pool === pool && m.port === port) return m;
      throw new Error(`no member ${pool}:${port}`);
    },
    close: async () => {
      await running.stopAccepting();
      running.closeAll();
      agents.destroyAll();
    },
  };
}
