/**
 * `/api/v1/pools/{pool}/bindings?key=…`: where one client key is bound and why (GET), and
 * unbinding it (DELETE, HAProxy's `clear table … key`), so that the client is placed afresh on its
 * next connection or request. Pure functions over the runtime; the server audits every call.
 */
import { createHash } from "node:crypto";
import { clientIpKey } from "../core/member.js";
import { carriesToken, type PersistenceType } from "../core/model.js";
import type { BindingStore } from "../data/affinity/binding-table.js";
import { isSessionOver } from "../data/affinity/cookie-codec.js";
import { codecFor } from "../data/affinity/http-cookie-affinity.js";
import type { MemberRuntime } from "../data/upstream/member-runtime.js";
import type { PoolRuntime } from "../data/upstream/pool-runtime.js";
import type { Runtime } from "../runtime/runtime.js";

export interface ApiAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** What the audit log line says about the outcome (never the key itself for cookies). */
  readonly outcome: string;
  readonly member?: string;
}

/**
 * How a key may appear in logs: a client IP as it is (logs carry client IPs anyway); a cookie
 * value never, only a hash prefix that lets two log lines be matched.
 */
export function keyForLog(type: PersistenceType | "none", key: string): string {
  if (type === "SOURCE_IP" || type === "none") return key;
  return `sha256:${createHash("sha256").update(key).digest("hex").slice(0, 12)}`;
}

/** The key as the pool's table stores it (IPv4-mapped IPv6 counts as IPv4 for SOURCE_IP). */
export function normalizeKey(pool: PoolRuntime, key: string): string {
  const type = pool.model.sessionPersistence?.type;
  return type === "SOURCE_IP" || type === undefined ? clientIpKey(key) : key;
}

function memberState(m: MemberRuntime | undefined): Record<string, unknown> | null {
  if (m === undefined) return null;
  return {
    endpoint: m.endpoint,
    up: m.healthy,
    weight: m.weight,
    draining: m.draining,
    eligible: m.eligible,
    keepsBindings: m.keepsBindings,
  };
}

/** Why the next connection or request with this key goes where it goes. */
function nextStep(m: MemberRuntime | undefined, unit: string): string {
  if (m === undefined)
    return `the member is no longer in the pool: the next ${unit} is placed afresh (redispatch)`;
  if (m.keepsBindings) {
    return m.draining
      ? `the member is draining but keeps its bindings: the next ${unit} still goes there`
      : `the member is up: the next ${unit} goes there`;
  }
  const why = !m.healthy ? "down" : m.weight === 0 ? "at weight 0" : "removed";
  return `the member is ${why}: the next ${unit} is placed afresh and rebound (redispatch)`;
}

function findPool(runtime: Runtime, name: string): PoolRuntime | ApiAnswer {
  const pool = runtime.current.pools.get(name);
  if (pool !== undefined) return pool;
  return {
    status: 404,
    body: { error: `no pool named "${name}"`, pools: [...runtime.current.pools.keys()] },
    outcome: "no such pool",
  };
}

/** GET: where `key` is bound in `poolName`, how long it has been idle and why it goes there. */
export function lookupBinding(runtime: Runtime, poolName: string, rawKey: string, now: number): ApiAnswer {
  const pool = findPool(runtime, poolName);
  if (!("model" in pool)) return pool;
  const persistence = pool.model.sessionPersistence;
  const base = {
    pool: pool.name,
    algorithm: pool.model.algorithm,
    sessionPersistence: persistence?.type ?? null,
  };
  const key = normalizeKey(pool, rawKey);
  const unit = persistence?.type === "SOURCE_IP" || persistence === undefined ? "connection" : "request";

  if (carriesToken(persistence)) return lookupHttpCookie(runtime, pool, key, now, base);
  const table = pool.bindings;
  if (table === undefined) {
    if (pool.model.algorithm === "SOURCE_IP") {
      // The consistent hash is a pure function of the IP and the eligible members: answer where it lands.
      const m = pool.pick(key);
      return {
        status: 200,
        body: {
          ...base,
          key,
          bound: false,
          member: m?.endpoint ?? null,
          memberState: memberState(m),
          why:
            m === undefined
              ? "SOURCE_IP algorithm: no member is eligible, so the client is refused"
              : `SOURCE_IP algorithm: the consistent hash of ${key} lands on ${m.endpoint}; there is no table to clear (the client moves only when members change)`,
        },
        outcome: "hashed",
        ...(m === undefined ? {} : { member: m.endpoint }),
      };
    }
    return {
      status: 404,
      body: {
        ...base,
        bound: false,
        why: `pool ${pool.name} has no session persistence: every ${unit} is placed by ${pool.model.algorithm}`,
      },
      outcome: "no persistence",
    };
  }

  const found = table.peek(key);
  if (found === undefined) {
    return {
      status: 404,
      body: {
        ...base,
        bound: false,
        bindings: table.size,
        why: `no binding for this key: its next ${unit} is a miss, placed by ${pool.model.algorithm} and bound`,
      },
      outcome: "not bound",
    };
  }
  const member = pool.member(found.member);
  const endpoint = member?.endpoint ?? found.member.slice(found.member.indexOf("/") + 1);
  let idleMs: number | null = null;
  let holds = 0;
  if (!found.expired && table.entries !== undefined) {
    for (const e of table.entries()) {
      if (e.key === key) {
        idleMs = e.idleMs;
        holds = e.holds;
        break;
      }
    }
  }
  const timeout = persistence?.persistenceTimeoutMs ?? 0;
  const learned =
    persistence?.type === "APP_COOKIE"
      ? `learned from the member's Set-Cookie ${persistence.cookieName}`
      : `placed by ${pool.model.algorithm} on the client's first ${unit}`;
  const why = found.expired
    ? `the binding to ${endpoint} lapsed after ${timeout / 1000}s idle: the next ${unit} is placed afresh (expired)`
    : `${persistence?.type} binding ${learned}; ${
        holds > 0
          ? `held by ${holds} open ${unit}(s)`
          : `idle ${Math.round((idleMs ?? 0) / 1000)}s of ${timeout / 1000}s`
      }; ${nextStep(member, unit)}`;
  return {
    status: 200,
    body: {
      ...base,
      key,
      bound: !found.expired,
      expired: found.expired,
      member: endpoint,
      memberState: memberState(member),
      idleMs,
      openConnections: holds,
      expiresInMs: found.expired || holds > 0 || idleMs === null ? null : Math.max(0, timeout - idleMs),
      persistenceTimeoutMs: timeout,
      why,
    },
    outcome: found.expired ? "expired" : "bound",
    member: endpoint,
  };
}

function lookupHttpCookie(
  runtime: Runtime,
  pool: PoolRuntime,
  value: string,
  now: number,
  base: Record<string, unknown>,
): ApiAnswer {
  const persistence = pool.model.sessionPersistence!;
  const cookieKey = runtime.current.cookieKey;
  if (cookieKey === undefined) {
    return { status: 503, body: { ...base, error: "no cookie key is loaded" }, outcome: "no cookie key" };
  }
  const codec = codecFor(cookieKey);
  const decoded = codec.decode(value);
  // HTTP_COOKIE and HTTP_HEADER carry the same token; only the words differ.
  const carrier =
    persistence.type === "HTTP_HEADER"
      ? `${persistence.headerName} header`
      : `${persistence.cookieName} cookie`;
  if (!decoded.ok) {
    return {
      status: 200,
      body: {
        ...base,
        bound: false,
        valid: false,
        why: `this ${carrier} value is ${decoded.reason}: stickylb ignores it, places the request afresh (invalid) and sends a new one`,
      },
      outcome: `invalid (${decoded.reason})`,
    };
  }
  const member = pool.members.find((m) => codec.memberToken(m.endpoint) === decoded.token);
  const idle = codec.isExpired(decoded.issuedAtMs, now, persistence.persistenceTimeoutMs);
  const over = isSessionOver(decoded.sessionStartMs, now, persistence.absoluteTimeoutMs);
  const expired = idle || over;
  const endpoint = member?.endpoint ?? null;
  const ageMs = Math.max(0, now - decoded.issuedAtMs);
  return {
    status: 200,
    body: {
      ...base,
      bound: !expired && member !== undefined,
      valid: true,
      expired,
      member: endpoint,
      memberState: memberState(member),
      issuedAt: new Date(decoded.issuedAtMs).toISOString(),
      ageMs,
      persistenceTimeoutMs: persistence.persistenceTimeoutMs,
      sessionStartedAt: new Date(decoded.sessionStartMs).toISOString(),
      ...(persistence.absoluteTimeoutMs === undefined
        ? {}
        : { absoluteTimeoutMs: persistence.absoluteTimeoutMs }),
      why: over
        ? `the session of this ${carrier} started ${Math.round((now - decoded.sessionStartMs) / 1000)}s ago, past absoluteTimeout: the next request is placed afresh (expired)`
        : idle
          ? `the ${carrier} was issued ${Math.round(ageMs / 1000)}s ago, past persistenceTimeout: the next request is placed afresh (expired)`
          : `the ${carrier} names ${endpoint ?? "a member no longer in the pool"}; ${nextStep(member, "request")}. The binding lives in the client's ${persistence.type === "HTTP_HEADER" ? "header token" : "cookie"}, so it cannot be deleted here`,
    },
    outcome: `${expired ? "expired" : "valid"} ${persistence.type === "HTTP_HEADER" ? "header token" : "cookie"}`,
    ...(endpoint === null ? {} : { member: endpoint }),
  };
}

/** DELETE: forgets the binding of `key`; the client's next connection or request is placed afresh. */
export function deleteBinding(runtime: Runtime, poolName: string, rawKey: string): ApiAnswer {
  const pool = findPool(runtime, poolName);
  if (!("model" in pool)) return pool;
  const persistence = pool.model.sessionPersistence;
  const table = pool.bindings;
  if (table === undefined) {
    const why = carriesToken(persistence)
      ? `${persistence?.type} bindings live in the clients' tokens, not in a table: change cookieSecret to invalidate them all`
      : pool.model.algorithm === "SOURCE_IP"
        ? "the SOURCE_IP algorithm is a consistent hash with no table: a client moves only when members change"
        : `pool ${pool.name} has no session persistence`;
    return { status: 409, body: { pool: pool.name, deleted: false, error: why }, outcome: "no table" };
  }
  const key = normalizeKey(pool, rawKey);
  const found = table.peek(key);
  const member = found === undefined ? undefined : found.member.slice(found.member.indexOf("/") + 1);
  return deleteAnswer(pool.name, table.delete(key), member, member, {
    missing: "no binding for this key",
    removed:
      "binding removed: the client's next connection or request is placed afresh by the algorithm and bound again",
  });
}

/**
 * The answer of a DELETE that was carried out: 404 when nothing was bound, else 200 naming the
 * member the binding pointed at (`shown` is that member as the body shows it).
 */
function deleteAnswer(
  pool: string,
  deleted: boolean,
  member: string | undefined,
  shown: string | null | undefined,
  why: { readonly missing: string; readonly removed: string },
): ApiAnswer {
  if (!deleted)
    return { status: 404, body: { pool, deleted: false, why: why.missing }, outcome: "not bound" };
  return {
    status: 200,
    body: { pool, deleted: true, member: shown, why: why.removed },
    outcome: "deleted",
    ...(member === undefined ? {} : { member }),
  };
}

/** A pool's binding store and the normalized key, for the shared-store variants below. */
function sharedKey(
  runtime: Runtime,
  poolName: string,
  rawKey: string,
): { pool: PoolRuntime; table: BindingStore; key: string } | undefined {
  const pool = runtime.current.pools.get(poolName);
  const table = pool?.bindings;
  return pool === undefined || table === undefined
    ? undefined
    : { pool, table, key: normalizeKey(pool, rawKey) };
}

/**
 * GET through a shared store (docs/shared-state.md): a key this replica has not cached is asked
 * of the store (within its 50 ms budget) and cached, so the answer is what every replica would
 * use. Without a store, or for a cached key, the same as {@link lookupBinding}.
 */
export async function lookupBindingShared(
  runtime: Runtime,
  poolName: string,
  rawKey: string,
  now: number,
): Promise<ApiAnswer> {
  const shared = sharedKey(runtime, poolName, rawKey);
  if (shared?.table.lookupShared !== undefined && shared.table.peek(shared.key) === undefined)
    await shared.table.lookupShared(shared.key);
  return lookupBinding(runtime, poolName, rawKey, now);
}

/**
 * DELETE through a shared store: the binding is removed for every replica, and the answer waits
 * for the store. When the store cannot be asked the binding is removed here, its delete waits for
 * the store, and the answer (502) says that other replicas may still use it.
 */
export async function deleteBindingShared(
  runtime: Runtime,
  poolName: string,
  rawKey: string,
): Promise<ApiAnswer> {
  const shared = sharedKey(runtime, poolName, rawKey);
  if (shared?.table.deleteShared === undefined) return deleteBinding(runtime, poolName, rawKey);
  const { pool, table, key } = shared;
  const found = table.peek(key);
  const local = found === undefined ? undefined : found.member.slice(found.member.indexOf("/") + 1);
  let deleted: boolean;
  try {
    deleted = await shared.table.deleteShared(key);
  } catch (err) {
    return {
      status: 502,
      body: {
        pool: pool.name,
        deleted: local !== undefined,
        error: `removed on this replica, but the state store could not be asked (${(err as Error).message}): other replicas keep the binding until the store is back, when the delete is sent`,
      },
      outcome: "store unreachable",
    };
  }
  return deleteAnswer(pool.name, deleted, local, local ?? null, {
    missing: "no binding for this key, here or in the state store",
    removed:
      "binding removed here, in the state store and on every replica: the client's next connection or request is placed afresh by the algorithm and bound again",
  });
}
