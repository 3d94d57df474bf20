/**
 * `GET /api/v1/explain?listener=…&client=…[&cookie=…][&host=…&path=…]`: why a client would go where
 * it goes, now. The listener's routes choose the pool, then the placement front runs in its
 * read-only form (`explainPlacement`): the client's key is peeked (no idle timer restarted, no
 * expired entry removed), the policy is asked what it would pick (no round-robin step), and
 * nothing is bound or counted. The answer names the rule, the key and what it decoded to, every
 * member's eligibility and why, the member chosen and one sentence of reason (docs/operations.md).
 */
import { isIP } from "node:net";
import { clientIpKey, type MemberId } from "../core/member.js";
import type { ListenerModel, PoolModel } from "../core/model.js";
import { explainPlacement } from "../data/affinity/placement-front.js";
import type { AffinityResult } from "../data/affinity/resolver.js";
import type { KeyPeek } from "../data/affinity/stickiness.js";
import { matchRule, normalizeHost, pathOf } from "../data/router/route-matcher.js";
import type { MemberRuntime } from "../data/upstream/member-runtime.js";
import type { PoolRuntime } from "../data/upstream/pool-runtime.js";
import type { Runtime } from "../runtime/runtime.js";

export interface ExplainAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** Longest value accepted for `cookie`, `host` and `path`: a request head is bounded too. */
const MAX_PARAM_LENGTH = 8_192;

function fail(status: number, error: string, extra: Record<string, unknown> = {}): ExplainAnswer {
  return { status, body: { error, ...extra } };
}

/** "12s", "3m", "2h": how long ago or how long, as people say it. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7_200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3_600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** Why a member may or may not take this client, in a few words. */
function memberWhy(m: MemberRuntime, runtime: Runtime): string {
  if (m.removed) return "removed from the configuration (its open connections drain)";
  if (!m.healthy) {
    const reason = m.downReason;
    if (reason?.startsWith("passive:") === true) return `ejected (${reason})`;
    const monitor = runtime.health.view(m.id)?.monitor;
    if (monitor !== undefined) return `unhealthy (${monitor} probe: ${reason ?? "down"})`;
    return reason === undefined ? "down" : `down (${reason})`;
  }
  if (m.weight === 0) return "weight 0 (takes no client, keeps no binding)";
  if (m.draining) return "draining (keeps its bindings, takes no new clients)";
  return "eligible";
}

/** A member as a sentence names it: `alpha (10.0.0.1:80)` when it has a name. */
function label(m: MemberRuntime): string {
  return m.name === undefined ? m.endpoint : `${m.name} (${m.endpoint})`;
}

/** The endpoint a member id names, for a member no longer in the pool. */
function endpointOfId(id: MemberId): string {
  return id.slice(id.lastIndexOf("/") + 1);
}

/** What is placed: a UDP datagram of an open flow keeps the flow's member, so a new flow is. */
function unitOf(listener: ListenerModel): string {
  return listener.protocol === "UDP" ? "new flow" : listener.protocol === "TCP" ? "connection" : "request";
}

/** What happens to a client that no member can take, per protocol. */
function refusal(listener: ListenerModel): string {
  switch (listener.protocol) {
    case "UDP":
      return "no member is eligible: the new flow's datagrams are dropped";
    case "TCP":
      return "no member is eligible: the connection is closed";
    default:
      return "no member is eligible: the request gets 503";
  }
}

/** How the policy places a client without a usable binding, with the member it gives. */
function byPolicy(pool: PoolModel, clientIp: string, chosen: string): string {
  switch (pool.algorithm) {
    case "SOURCE_IP":
      return `the consistent hash of ${clientIp} (SOURCE_IP algorithm) lands on ${chosen}`;
    case "ROUND_ROBIN":
      return `the next turn of the round robin is ${chosen}`;
    case "LEAST_CONNECTIONS":
      return `the least-loaded eligible member (LEAST_CONNECTIONS) is ${chosen}`;
  }
}

/** The key's part of the sentence: what the client carries or what the table holds. */
function keyPhrase(key: KeyPeek, pool: PoolRuntime, clientIp: string, now: number): string {
  const cookieName = pool.model.sessionPersistence?.cookieName ?? "";
  const known = key.member === undefined ? undefined : pool.member(key.member);
  const named =
    known !== undefined
      ? label(known)
      : key.member === undefined
        ? "a member no longer in the pool"
        : endpointOfId(key.member);
  switch (key.type) {
    case "HTTP_COOKIE":
      if (!key.found) return `the request carries no ${cookieName} cookie`;
      if (key.refused !== undefined) return `the ${cookieName} cookie is ${key.refused}, so it is ignored`;
      return `the ${cookieName} cookie issued ${humanDuration(now - (key.issuedAt ?? now))} ago names ${named}`;
    case "HTTP_HEADER": {
      const header = pool.model.sessionPersistence?.headerName ?? "";
      if (!key.found) return `the request carries no ${header} header`;
      if (key.refused !== undefined) return `the ${header} header is ${key.refused}, so it is ignored`;
      return `the ${header} token issued ${humanDuration(now - (key.issuedAt ?? now))} ago names ${named}`;
    }
    case "APP_COOKIE":
      if (key.refused !== undefined) return `the ${cookieName} value is ${key.refused}, so it is not a key`;
      if (!key.found) return `no ${cookieName} binding is known for this request`;
      return `the ${cookieName} value is bound (learnt from a Set-Cookie) to ${named}`;
    case "SOURCE_IP":
      if (!key.found) return `no binding is kept for ${clientIp}`;
      return `${clientIp} is bound to ${named}`;
  }
}

function reasonFor(
  listener: ListenerModel,
  pool: PoolRuntime,
  clientIp: string,
  key: KeyPeek | undefined,
  result: AffinityResult | undefined,
  chosen: MemberRuntime | undefined,
  runtime: Runtime,
  now: number,
): string {
  const model = pool.model;
  const placed = chosen === undefined ? refusal(listener) : byPolicy(model, clientIp, label(chosen));
  if (key === undefined) {
    const persistence = model.sessionPersistence?.type;
    const why =
      persistence === undefined
        ? `pool ${pool.name} has no session persistence`
        : `${persistence} persistence does not apply to ${listener.protocol} traffic`;
    return `${why}: ${placed}`;
  }
  const phrase = keyPhrase(key, pool, clientIp, now);
  const timeout = humanDuration(model.sessionPersistence?.persistenceTimeoutMs ?? 0);
  const bindsHow =
    key.type === "HTTP_COOKIE"
      ? "the response sets a cookie naming it"
      : key.type === "APP_COOKIE"
        ? `a ${model.sessionPersistence?.cookieName} set by its response is bound to it`
        : "the binding is recorded";
  switch (result) {
    case "hit": {
      const why = chosen === undefined ? "" : memberWhy(chosen, runtime);
      const state = why === "eligible" ? "which is eligible" : `which is ${why}, and keeps its bound clients`;
      return `${phrase}, ${state}: the ${unitOf(listener)} goes there (hit)`;
    }
    case "redispatch": {
      const bound = key.member === undefined ? undefined : pool.member(key.member);
      const why = bound === undefined ? "no longer in the pool" : memberWhy(bound, runtime);
      return `${phrase}, which is ${why}: placed afresh (redispatch) — ${placed}, and ${bindsHow}`;
    }
    case "expired":
      return key.type === "HTTP_COOKIE"
        ? `${phrase}, but it is older than persistenceTimeout ${timeout} (expired): ${placed}, and ${bindsHow}`
        : `${phrase}, but the binding lapsed after ${timeout} idle (expired): ${placed}, and ${bindsHow}`;
    case "invalid":
      return `${phrase} (invalid): ${placed}, and ${bindsHow}`;
    default:
      return `${phrase} (miss): ${placed}, and ${bindsHow}`;
  }
}

/** The decoded key as the answer shows it; null when the client carries no key. */
function decodedOf(key: KeyPeek, pool: PoolRuntime, now: number): Record<string, unknown> | null {
  if (!key.found) return null;
  const member =
    key.member === undefined ? null : (pool.member(key.member)?.endpoint ?? endpointOfId(key.member));
  const timeoutMs = pool.model.sessionPersistence?.persistenceTimeoutMs ?? 0;
  const live = key.idleMs !== undefined;
  return {
    member,
    issuedAt: key.issuedAt === undefined ? null : new Date(key.issuedAt).toISOString(),
    ageMs: key.issuedAt === undefined ? null : Math.max(0, now - key.issuedAt),
    expired: key.expired,
    forged: key.forged,
    refused: key.refused ?? null,
    idleMs: key.idleMs ?? null,
    openConnections: key.holds ?? null,
    // When the binding lapses if nothing uses it: none while connections hold it open.
    expiresInMs:
      key.issuedAt !== undefined
        ? key.expired
          ? 0
          : Math.max(0, key.issuedAt + timeoutMs - now)
        : live && (key.holds ?? 0) === 0
          ? Math.max(0, timeoutMs - (key.idleMs ?? 0))
          : null,
  };
}

/** Answers one explain query against the current snapshot; changes nothing. */
export function explainQuery(runtime: Runtime, params: URLSearchParams, now: number): ExplainAnswer {
  const listenerName = params.get("listener");
  const client = params.get("client");
  const snapshot = runtime.current;
  const names = snapshot.model.listeners.map((l) => l.name);
  if (listenerName === null || listenerName === "")
    return fail(400, "the listener query parameter is required", { listeners: names });
  if (client === null || client === "")
    return fail(400, "the client query parameter is required: the client's IP address");
  if (isIP(client) === 0) return fail(400, `client "${client.slice(0, 64)}" is not an IPv4 or IPv6 address`);
  for (const p of ["cookie", "host", "path"]) {
    if ((params.get(p)?.length ?? 0) > MAX_PARAM_LENGTH)
      return fail(400, `the ${p} query parameter is longer than ${MAX_PARAM_LENGTH} characters`);
  }
  const listener = snapshot.model.listeners.find((l) => l.name === listenerName);
  if (listener === undefined)
    return fail(404, `no listener named "${listenerName.slice(0, 128)}"`, { listeners: names });

  const clientIp = clientIpKey(client);
  const http = listener.protocol === "HTTP" || listener.protocol === "HTTPS";
  let rule: Record<string, unknown> | null = null;
  let poolName = listener.defaultPool;
  const host = normalizeHost(params.get("host") ?? "");
  const path = pathOf(params.get("path") || "/");
  if (http) {
    const match = matchRule(listener, host, path);
    poolName = match.pool;
    if (match.rule !== undefined) {
      rule = { host: match.rule.host ?? null, path: match.rule.path ?? null, pathType: match.rule.pathType };
    }
  }
  const base = {
    listener: listener.name,
    protocol: listener.protocol,
    client: clientIp,
    ...(http ? { request: { host, path } } : {}),
    rule,
    pool: poolName ?? null,
  };
  const pool = poolName === undefined ? undefined : snapshot.pools.get(poolName);
  if (pool === undefined) {
    return {
      status: 200,
      body: {
        ...base,
        key: null,
        members: [],
        chosen: null,
        result: null,
        reason:
          poolName === undefined
            ? `no rule matches host "${host}" and path "${path}" and the listener has no default pool: the request gets 404`
            : `pool ${poolName} is not loaded: the request gets 503`,
      },
    };
  }

  const cookie = params.get("cookie");
  // HTTP_HEADER: the token as the request would carry it in the pool's header.
  const header = params.get("header");
  const headerName = pool.model.sessionPersistence?.headerName;
  const placement = explainPlacement(pool, {
    clientIp,
    http,
    cookieHeader: cookie === null || cookie === "" ? undefined : cookie,
    requestRaw: header === null || header === "" || headerName === undefined ? [] : [headerName, header],
    https: listener.protocol === "HTTPS",
    now,
  });
  const { key, member: chosen, result } = placement;
  const persistence = pool.model.sessionPersistence;
  return {
    status: 200,
    body: {
      ...base,
      algorithm: pool.model.algorithm,
      persistence:
        persistence === undefined
          ? null
          : {
              type: persistence.type,
              timeoutMs: persistence.persistenceTimeoutMs,
              ...(persistence.type === "SOURCE_IP" ? {} : { cookieName: persistence.cookieName }),
            },
      key:
        key === undefined
          ? null
          : {
              type: key.type,
              found: key.found,
              ...(key.type === "SOURCE_IP" ? { value: clientIp } : {}),
              decoded: decodedOf(key, pool, now),
            },
      members: pool.members.map((m) => ({
        member: m.endpoint,
        name: m.name ?? null,
        eligible: m.eligible,
        keepsBindings: m.keepsBindings,
        weight: m.weight,
        active: m.active,
        why: memberWhy(m, runtime),
      })),
      chosen: chosen?.endpoint ?? null,
      chosenName: chosen?.name ?? null,
      result: result ?? null,
      reason: reasonFor(listener, pool, clientIp, key, result, chosen, runtime, now),
    },
  };
}
