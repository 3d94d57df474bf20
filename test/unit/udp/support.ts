import { pino } from "pino";
import { ManualClock } from "../../../src/core/clock.js";
import type {
  Algorithm,
  ConfigModel,
  ListenerModel,
  MemberModel,
  PoolModel,
} from "../../../src/core/model.js";
import { SnapshotHolder } from "../../../src/core/snapshot-holder.js";
import type { DataPathContext } from "../../../src/data/context.js";
import { FaultCounters } from "../../../src/data/fault-guard.js";
import type { Snapshot } from "../../../src/data/snapshot.js";
import type { ConnectOutcomeSink } from "../../../src/data/upstream/failure-sink.js";
import { MemberConnectionPools } from "../../../src/data/upstream/member-connections.js";
import { MemberRegistry } from "../../../src/data/upstream/member-registry.js";
import type { MemberRuntime } from "../../../src/data/upstream/member-runtime.js";
import { buildSnapshot } from "../../../src/runtime/build-snapshot.js";
import { PoolStates } from "../../../src/runtime/pool-states.js";

const SOURCE = { file: "test.yaml", object: "LoadBalancer/test" };

export function udpListenerModel(overrides: Partial<ListenerModel> = {}): ListenerModel {
  return {
    name: "udp",
    protocol: "UDP",
    address: "127.0.0.1",
    port: 0,
    defaultPool: "p",
    rules: [],
    tls: [],
    proxyProtocol: false,
    timeouts: { idleMs: 1000, clientMs: 60_000, memberMs: 60_000, connectMs: 5000 },
    maxFlows: 100,
    accessLog: false,
    source: SOURCE,
    ...overrides,
  };
}

export function poolModel(
  members: { address: string; port: number }[],
  algorithm: Algorithm = "ROUND_ROBIN",
  sourceIpPersistence = false,
  extra: Partial<PoolModel> = {},
): PoolModel {
  const list: MemberModel[] = members.map((m) => ({
    address: m.address,
    port: m.port,
    weight: 1,
    draining: false,
  }));
  return {
    name: "p",
    algorithm,
    members: list,
    source: SOURCE,
    ...(sourceIpPersistence
      ? {
          sessionPersistence: {
            type: "SOURCE_IP" as const,
            persistenceTimeoutMs: 60_000,
            cookieName: "",
            cookie: {
              path: "/",
              domain: "",
              sameSite: "Lax" as const,
              secure: "auto" as const,
              httpOnly: true,
            },
            maxBindings: 1000,
          },
        }
      : {}),
    ...extra,
  };
}

export interface Outcome {
  readonly member: string;
  readonly ok: boolean;
  readonly reason?: string;
}

/** A data path context over a real snapshot (registry, pool states) with a manual clock. */
export class TestRuntime {
  readonly clock = new ManualClock(1_000_000);
  readonly registry = new MemberRegistry(this.clock);
  readonly poolStates = new PoolStates(this.clock);
  readonly outcomes: Outcome[] = [];
  readonly holder: SnapshotHolder<Snapshot>;
  readonly ctx: DataPathContext;
  private version = 0;

  constructor(model: ConfigModel) {
    this.holder = new SnapshotHolder(this.build(model));
    const sink: ConnectOutcomeSink = {
      connectFailed: (m: MemberRuntime, reason: string) =>
        this.outcomes.push({ member: m.endpoint, ok: false, reason }),
      connectSucceeded: (m: MemberRuntime) => this.outcomes.push({ member: m.endpoint, ok: true }),
    };
    this.ctx = {
      holder: this.holder,
      clock: this.clock,
      log: pino({ level: "silent" }),
      outcomes: sink,
      memberPools: new MemberConnectionPools(),
      faults: new FaultCounters(),
    };
  }

  apply(model: ConfigModel): void {
    this.holder.swap(this.build(model));
  }

  member(endpoint: string): MemberRuntime {
    for (const m of this.registry.all()) if (m.endpoint === endpoint) return m;
    throw new Error(`no member ${endpoint}`);
  }

  private build(model: ConfigModel): Snapshot {
    return buildSnapshot(model, ++this.version, this.registry, this.poolStates, undefined, 30_000);
  }
}

/** Resolves once `predicate` holds, polling on the event loop (sockets deliver asynchronously). */
export async function until(predicate: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
