import type { KernelAdmin } from "../admin/admin-source.js";
import type { ApiAnswer } from "../admin/bindings-api.js";
import type { Logger } from "../core/log.js";
import { type MemberId, memberIdOf } from "../core/member.js";
import type { ConfigModel } from "../core/model.js";
import { KernelDataPlane, kernelPlanOf } from "./kernel-data-plane.js";
import { isAddressKey } from "./reader.js";

/** The health the kernel plane follows: the member registry's view, and its change events. */
export interface HealthSource {
  get(id: MemberId): { readonly healthy: boolean } | undefined;
  onHealthChange(listener: () => void): void;
}

/**
 * KernelPlaneWiring connects a {@link KernelDataPlane} to a running process: the userspace runtime
 * gets the configuration without the listeners that the kernel serves, the kernel gets the whole
 * configuration and is re-programmed on every health change. A listener that stays in userspace is
 * warned about once per reason.
 */
export class KernelPlaneWiring {
  private model: ConfigModel | undefined;
  private readonly warned = new Set<string>();

  constructor(
    private readonly plane: KernelDataPlane,
    private readonly table: string,
    private readonly health: HealthSource,
    private readonly log: Logger,
  ) {
    health.onHealthChange(() => {
      if (this.model === undefined) return;
      this.program(this.model).catch((err: unknown) =>
        log.error({ err }, "could not re-program the kernel after a health change; the previous rules stay"),
      );
    });
  }

  /** The configuration the userspace runtime serves: every listener the kernel does not take. */
  userspaceModel(model: ConfigModel): ConfigModel {
    const { result } = kernelPlanOf(this.table, model, () => true);
    const kernel = new Set(result.kernel);
    return { ...model, listeners: model.listeners.filter((l) => !kernel.has(l.name)) };
  }

  /** Programs the kernel for a configuration (start and every reload); rejects if nft refuses it. */
  async apply(model: ConfigModel): Promise<void> {
    this.model = model;
    const result = await this.program(model);
    for (const { listener, reason } of result.userspace) {
      const key = `${listener}\n${reason}`;
      if (this.warned.has(key)) continue;
      this.warned.add(key);
      this.log.warn({ listener, reason }, `listener ${listener} stays in userspace: ${reason}`);
    }
    this.log.info({ listeners: result.kernel }, "kernel data plane programmed");
  }

  private program(model: ConfigModel) {
    return this.plane.apply(
      model,
      (pool, address, port) => this.health.get(memberIdOf(pool, address, port))?.healthy ?? true,
    );
  }

  /** Deletes the table (stop). */
  close(): Promise<void> {
    return this.plane.close();
  }

  /** The admin API's view of the kernel: counters and bindings read with nft (docs/kernel-dataplane.md). */
  adminView(): KernelAdmin {
    let connections: ReadonlyMap<string, number> = new Map();
    let bindings: ReadonlyMap<string, number> = new Map();
    const plane = this.plane;
    const base = (pool: string) => {
      const p = plane.pools().get(pool);
      return {
        pool,
        algorithm: p?.algorithm ?? null,
        sessionPersistence: p?.persistenceTimeoutMs === undefined ? null : "SOURCE_IP",
        dataplane: "nftables",
      };
    };
    const refused = (pool: string, key: string): ApiAnswer | undefined =>
      isAddressKey(key)
        ? undefined
        : {
            status: 400,
            body: {
              ...base(pool),
              error: `${JSON.stringify(key)} is not an IPv4 or IPv6 address`,
            },
            outcome: "bad key",
          };
    const hashed = (pool: string, key: string): ApiAnswer => ({
      status: 200,
      body: {
        ...base(pool),
        key,
        bound: false,
        member: null,
        why: `SOURCE_IP algorithm in the kernel: a Maglev map indexed by jhash of the address (nft list table inet ${this.table}); there is no table to clear`,
      },
      outcome: "hashed",
    });
    return {
      refresh: async () => {
        connections = await plane.connectionCounts();
        const counts = new Map<string, number>();
        for (const [name, p] of plane.pools())
          if (p.persistenceTimeoutMs !== undefined) counts.set(name, (await plane.bindings(name)).length);
        bindings = counts;
      },
      connections: () => connections,
      bindings: () => bindings,
      handlesPool: (pool) => plane.pools().has(pool),
      status: () => ({
        table: this.table,
        listeners: plane.listeners().map((l) => ({
          name: l.name,
          protocol: l.protocol,
          address: l.address,
          port: l.port,
          pool: l.pool,
          connections: connections.get(l.name) ?? 0,
        })),
        pools: [...plane.pools().values()].map((p) => ({
          name: p.name,
          algorithm: p.algorithm,
          bindings: p.persistenceTimeoutMs === undefined ? null : (bindings.get(p.name) ?? 0),
        })),
      }),
      lookup: async (pool, key) => {
        const bad = refused(pool, key);
        if (bad !== undefined) return bad;
        if (plane.pools().get(pool)?.persistenceTimeoutMs === undefined) return hashed(pool, key);
        const member = await plane.lookupBinding(pool, key);
        if (member === undefined)
          return {
            status: 404,
            body: {
              ...base(pool),
              key,
              bound: false,
              why: "no binding for this key: its next connection is placed by weight and bound",
            },
            outcome: "not bound",
          };
        return {
          status: 200,
          body: { ...base(pool), key, bound: true, member, why: `bound in the kernel's set of ${member}` },
          outcome: "bound",
          member,
        };
      },
      remove: async (pool, key) => {
        const bad = refused(pool, key);
        if (bad !== undefined) return bad;
        if (plane.pools().get(pool)?.persistenceTimeoutMs === undefined)
          return {
            status: 409,
            body: {
              ...base(pool),
              deleted: false,
              error: "the SOURCE_IP algorithm is a consistent hash with no table",
            },
            outcome: "no table",
          };
        const deleted = await plane.deleteBinding(pool, key);
        return deleted
          ? {
              status: 200,
              body: {
                ...base(pool),
                deleted: true,
                why: "binding removed: the client's next connection is placed afresh and bound again",
              },
              outcome: "deleted",
            }
          : {
              status: 404,
              body: { ...base(pool), deleted: false, why: "no binding for this key" },
              outcome: "not bound",
            };
      },
    };
  }
}

/**
 * Starts the kernel plane for `run -f` and `run --kubernetes` alike: checks the environment and
 * creates the table (rejects with a KernelEnvironmentError that says what is missing), and makes
 * sure the table does not outlive the process when a fatal error exits without the drain.
 */
export async function openKernelPlane(table: string): Promise<KernelDataPlane> {
  const plane = new KernelDataPlane({ table });
  await plane.start();
  process.once("exit", () => plane.closeSync());
  return plane;
}

/**
 * The runtime's kernel seam for a started plane (`RuntimeOptions.kernel`); `wiring()` gives the
 * wiring the runtime made, for the admin API.
 */
export function kernelSeamFor(plane: KernelDataPlane, table: string, log: Logger) {
  let made: KernelPlaneWiring | undefined;
  return {
    create: (health: HealthSource): KernelPlaneWiring => {
      made = new KernelPlaneWiring(plane, table, health, log);
      return made;
    },
    wiring: (): KernelPlaneWiring | undefined => made,
  };
}

export type KernelSeamFactory = ReturnType<typeof kernelSeamFor>;
