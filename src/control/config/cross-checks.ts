/**
 * Checks that span documents and sources (docs/configuration.md): unique names, pool references, cookie
 * persistence only behind HTTP listeners, and listeners that would fight over one socket.
 */
import type { Protocol } from "../../core/model.js";
import type { ConfigError } from "./config-error.js";
import { errorAt, type ListenerEntry, type PoolEntry, where } from "./entries.js";

const family = (protocol: Protocol): "TCP" | "UDP" => (protocol === "UDP" ? "UDP" : "TCP");
const FAMILY_WORDS = { TCP: "TCP family (TCP, HTTP, HTTPS)", UDP: "UDP family" } as const;

/**
 * Whether two listen addresses would collide on one port. On Linux a socket bound to the
 * wildcard of a family refuses a second bind to any address of that family, and `::` is
 * dual-stack in Node, so it also covers IPv4.
 */
export function addressesOverlap(a: string, b: string): boolean {
  if (a === b || a === "::" || b === "::") return true;
  const v4 = (x: string): boolean => !x.includes(":");
  return (a === "0.0.0.0" && v4(b)) || (b === "0.0.0.0" && v4(a));
}

function uniqueNames<T extends { name: string | undefined; at: ListenerEntry["at"] }>(
  entries: readonly T[],
  kind: string,
  errors: ConfigError[],
): Map<string, T> {
  const byName = new Map<string, T>();
  for (const entry of entries) {
    if (entry.name === undefined) continue;
    const first = byName.get(entry.name);
    if (first === undefined) {
      byName.set(entry.name, entry);
      continue;
    }
    errors.push(
      errorAt(
        "SLB_ERR_CONFIG_CLASH",
        entry.at(["name"]),
        `${JSON.stringify(entry.name)} is already the name of a ${kind} (${where(first.at(["name"]))}); ${kind} names must be unique`,
      ),
    );
  }
  return byName;
}

function checkReference(
  listener: ListenerEntry,
  field: readonly (string | number)[],
  poolName: string,
  pools: ReadonlyMap<string, PoolEntry>,
  errors: ConfigError[],
): void {
  const pool = pools.get(poolName);
  if (pool === undefined) {
    const known = [...pools.keys()].map((n) => JSON.stringify(n));
    const accepted = known.length === 0 ? "no pool is defined" : `pools: ${known.join(", ")}`;
    errors.push(
      errorAt(
        "SLB_ERR_CONFIG_REFERENCE",
        listener.at(field),
        `${JSON.stringify(poolName)} is not a pool (${accepted})`,
      ),
    );
    return;
  }
  const httpOnly =
    pool.persistence === "HTTP_COOKIE" ||
    pool.persistence === "APP_COOKIE" ||
    pool.persistence === "HTTP_HEADER";
  if (httpOnly && (listener.protocol === "TCP" || listener.protocol === "UDP")) {
    errors.push(
      errorAt(
        "SLB_ERR_CONFIG_REFERENCE",
        listener.at(field),
        `pool ${JSON.stringify(poolName)} uses ${pool.persistence} session persistence (${where(pool.at(["sessionPersistence"]))}), ` +
          `which needs HTTP or HTTPS listeners; a ${listener.protocol} listener accepts SOURCE_IP persistence or none`,
      ),
    );
  }
}

function checkSockets(listeners: readonly ListenerEntry[], errors: ConfigError[]): void {
  const seen: ListenerEntry[] = [];
  for (const listener of listeners) {
    const { protocol, address, port } = listener;
    if (protocol === undefined || address === undefined || port === undefined) continue;
    const clash = seen.find(
      (other) =>
        other.port === port &&
        family(other.protocol!) === family(protocol) &&
        addressesOverlap(other.address!, address),
    );
    if (clash !== undefined) {
      errors.push(
        errorAt(
          "SLB_ERR_CONFIG_CLASH",
          listener.at(["port"]),
          `${port} on ${address} is already taken by listener ${JSON.stringify(clash.name ?? "?")} on ${clash.address} ` +
            `(${where(clash.at(["port"]))}) in the ${FAMILY_WORDS[family(protocol)]}; use another port or address`,
        ),
      );
      continue;
    }
    seen.push(listener);
  }
}

/** Runs every cross check; problems go to `errors`, unused pools to `warnings`. */
export function crossCheck(
  listeners: readonly ListenerEntry[],
  pools: readonly PoolEntry[],
  errors: ConfigError[],
  warnings: ConfigError[],
): void {
  const poolsByName = uniqueNames(pools, "pool", errors);
  uniqueNames(listeners, "listener", errors);
  const used = new Set<string>();
  for (const listener of listeners) {
    if (listener.defaultPool !== undefined) {
      used.add(listener.defaultPool);
      checkReference(listener, ["defaultPool"], listener.defaultPool, poolsByName, errors);
    }
    listener.rulePools.forEach((pool, i) => {
      if (pool === undefined) return;
      used.add(pool);
      checkReference(listener, ["rules", i, "pool"], pool, poolsByName, errors);
    });
  }
  checkSockets(listeners, errors);
  for (const [name, pool] of poolsByName) {
    if (!used.has(name))
      warnings.push(
        errorAt(
          "SLB_ERR_CONFIG_REFERENCE",
          pool.at(["name"]),
          `pool ${JSON.stringify(name)} is used by no listener`,
        ),
      );
  }
}
