/**
 * Forwards one HTTP request to a member and streams the response back (SPEC 6.6): route, place,
 * send with rewritten headers through the member's keep-alive pool, retry once on another member
 * when that is safe, then answer 502/503/504 with a counter for each case. Never throws.
 */
import * as http from "node:http";
import { clientIpKey } from "../../core/member.js";
import type { ListenerModel } from "../../core/model.js";
import type { DataPathContext } from "../context.js";
import { clientAddressOf } from "../listener/client-address.js";
import { matcherFor, normalizeHost, pathOf } from "../router/route-matcher.js";
import type { Snapshot } from "../snapshot.js";
import type { HttpAgents } from "../upstream/http-agents.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { PoolRuntime } from "../upstream/pool-runtime.js";
import { logAccess, pathForLog } from "./access-log.js";
import type { HttpListenerCounters } from "./http-counters.js";
import { ambiguousFraming, requestHeadersForMember, responseHeadersForClient } from "./http-headers.js";
import { sendLocal } from "./http-local.js";
import { placeRequest, type StickyRequest } from "./http-placement.js";

/** What every request of one listener shares. */
export interface HttpEnv {
  readonly ctx: DataPathContext;
  readonly counters: HttpListenerCounters;
  readonly agents: HttpAgents;
  readonly https: boolean;
  /** The listener's bound port (X-Forwarded-Port). */
  readonly port: number;
}

/** RFC 9110 9.2.2: a request that may be sent twice. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

export type RouteOutcome =
  | {
      readonly ok: true;
      readonly pool: PoolRuntime;
      readonly sticky: StickyRequest;
      readonly member: MemberRuntime;
    }
  | { readonly ok: false; readonly status: number; readonly pool: string };

/**
 * Routes and places a request with the snapshot current now: 400 for ambiguous framing, 404 for
 * no route, 503 for a pool with no eligible member.
 */
export function routeAndPlace(
  req: http.IncomingMessage,
  listener: ListenerModel,
  snapshot: Snapshot,
  env: HttpEnv,
): RouteOutcome {
  if (ambiguousFraming(req.rawHeaders) !== undefined) {
    env.counters.malformed++;
    return { ok: false, status: 400, pool: "" };
  }
  const poolName = matcherFor(listener)(normalizeHost(req.headers.host), pathOf(req.url ?? "/"));
  if (poolName === undefined) {
    env.counters.noRoute++;
    return { ok: false, status: 404, pool: "" };
  }
  const pool = snapshot.pools.get(poolName);
  if (pool === undefined) {
    env.counters.noMember++;
    return { ok: false, status: 503, pool: poolName };
  }
  const sticky = placeRequest(pool, {
    clientIp: clientIpKey(clientAddressOf(req.socket)),
    cookieHeader: req.headers.cookie,
    https: env.https,
    now: env.ctx.clock.now(),
    cookieKey: snapshot.cookieKey,
  });
  const member = sticky.placement.member;
  if (member === undefined) {
    env.counters.noMember++;
    return { ok: false, status: 503, pool: poolName };
  }
  return { ok: true, pool, sticky, member };
}

function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/** Handles one request of an HTTP/HTTPS listener. */
export function forwardHttp(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  listener: ListenerModel,
  snapshot: Snapshot,
  env: HttpEnv,
): void {
  const { counters, ctx } = env;
  const started = listener.accessLog ? ctx.clock.now() : 0;
  const clientIp = clientIpKey(clientAddressOf(req.socket));
  const route = routeAndPlace(req, listener, snapshot, env);
  const access = (status: number, member: string | null): void => {
    if (!listener.accessLog) return;
    logAccess(ctx.log, {
      listener: listener.name,
      protocol: env.https ? "HTTPS" : "HTTP",
      client: clientIp,
      pool: route.ok ? route.pool.name : route.pool,
      member,
      affinity: (route.ok ? route.sticky.placement.result : undefined) ?? "none",
      status,
      method: req.method,
      path: pathForLog(req.url),
      durationMs: ctx.clock.now() - started,
    });
  };
  if (!route.ok) {
    counters.countResponse(route.pool, "", route.status);
    access(route.status, null);
    sendLocal(res, route.status, route.status === 400 || !req.complete);
    return;
  }
  const { pool, sticky } = route;
  const withBody = hasBody(req);
  const headers = requestHeadersForMember(req.rawHeaders, {
    clientIp,
    proto: env.https ? "https" : "http",
    port: env.port,
    upgrade: undefined,
    chunked: req.headers["transfer-encoding"] !== undefined,
  });
  const timeouts = listener.timeouts;
  const client = req.socket;
  let current: http.ClientRequest | undefined;
  let clientGone = false;
  res.once("close", () => {
    if (res.writableFinished) return;
    clientGone = true;
    current?.destroy();
  });
  req.once("error", () => current?.destroy());

  const fail = (status: number): void => {
    if (clientGone) return;
    if (status === 502) counters.badGateway++;
    counters.countResponse(pool.name, "", status);
    access(status, null);
    sendLocal(res, status, !req.complete);
  };

  const attempt = (target: MemberRuntime, retried: boolean, staleRetried: boolean): void => {
    const finish = target.claim(client);
    let connected = false;
    let responded = false;
    let timedOut = false;
    let connectTimer: NodeJS.Timeout | undefined;
    const up = http.request({
      host: target.address,
      port: target.port,
      method: req.method,
      path: req.url,
      headers,
      setHost: false,
      agent: env.agents.agentFor(target),
    });
    current = up;

    // The body is sent only once the connection is up, so a connect failure leaves it unread and
    // the request can go to another member whatever its method.
    const onConnected = (): void => {
      if (connectTimer !== undefined) clearTimeout(connectTimer);
      connected = true;
      ctx.outcomes.connectSucceeded(target);
      if (withBody) req.pipe(up);
      else up.end();
    };
    up.once("socket", (socket) => {
      if (socket.connecting) {
        connectTimer = setTimeout(
          () => up.destroy(Object.assign(new Error("connect timeout"), { code: "ETIMEDOUT" })),
          timeouts.connectMs,
        );
        socket.once("connect", onConnected);
      } else {
        onConnected();
      }
    });
    up.setTimeout(timeouts.memberMs, () => {
      timedOut = true;
      up.destroy();
      finish();
      if (responded) {
        counters.responseAborts++;
        res.destroy();
        return;
      }
      counters.memberTimeouts++;
      ctx.log.debug({ listener: listener.name, member: target.endpoint }, "member timeout");
      if (clientGone) return;
      counters.countResponse(pool.name, target.endpoint, 504);
      access(504, target.endpoint);
      sendLocal(res, 504, !req.complete);
    });

    up.on("error", (err: NodeJS.ErrnoException) => {
      if (connectTimer !== undefined) clearTimeout(connectTimer);
      finish();
      if (timedOut || clientGone) return;
      if (responded) {
        counters.responseAborts++;
        res.destroy();
        return;
      }
      const code = err.code ?? err.message;
      // A pooled connection the member closed while idle: not the member's failure; resend once.
      if (connected && up.reusedSocket && code === "ECONNRESET" && !withBody && !staleRetried) {
        attempt(target, retried, true);
        return;
      }
      if (connected) counters.resets++;
      else counters.connectFailures++;
      ctx.outcomes.connectFailed(target, code);
      ctx.log.debug(
        { listener: listener.name, member: target.endpoint, err: code, connected },
        "member failed",
      );
      // SPEC 6.3/6.6: nothing sent → any method may go elsewhere; sent → only a bodiless idempotent one.
      const safe = !connected || (IDEMPOTENT.has(req.method ?? "") && !withBody);
      const next = retried || !safe ? undefined : route.pool.pick(clientIp, target);
      if (next === undefined) {
        fail(502);
        return;
      }
      counters.retries++;
      sticky.retried(next);
      attempt(next, true, staleRetried);
    });

    up.once("response", (upRes) => {
      responded = true;
      if (clientGone) {
        upRes.destroy();
        finish();
        return;
      }
      const out = responseHeadersForClient(upRes.rawHeaders);
      for (const cookie of sticky.answered(target, upRes.rawHeaders)) out.push("Set-Cookie", cookie);
      const status = upRes.statusCode ?? 502;
      counters.countResponse(pool.name, target.endpoint, status);
      res.writeHead(status, upRes.statusMessage, out);
      // pipe() rather than stream.pipeline(): pipeline allocates an AbortController per call and
      // raises a DOMException when it finishes, a measurable cost per request (issue 7 profile).
      let ended = false;
      upRes.once("end", () => {
        ended = true;
        finish();
        access(status, target.endpoint);
      });
      upRes.once("close", () => {
        if (ended) return;
        finish();
        if (timedOut || clientGone) return;
        counters.responseAborts++;
        res.destroy();
      });
      upRes.on("error", () => {});
      upRes.pipe(res);
    });
  };
  attempt(route.member, false, false);
}
