/**
 * Forwards one HTTP request to a member and streams the response back (SPEC 6.6): route, place,
 * send with rewritten headers through the member's keep-alive pool, retry once on another member
 * when that is safe, then answer 502/503/504 with a counter for each case. Never throws.
 *
 * The upstream hop is undici's low-level `dispatch(options, handler)`: no ClientRequest, no
 * IncomingMessage, no promise per request. Each attempt is one handler object whose methods are on
 * its prototype, so a request allocates no closures of its own here (issue 7 profile).
 */
import type * as http from "node:http";
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { clientIpKey } from "../../core/member.js";
import type { ListenerModel } from "../../core/model.js";
import type { DataPathContext } from "../context.js";
import { clientAddressOf } from "../listener/client-address.js";
import { matcherFor, normalizeHost, pathOf } from "../router/route-matcher.js";
import type { Snapshot } from "../snapshot.js";
import { type HttpAgents, REUSED_SOCKET, type UpstreamError } from "../upstream/http-agents.js";
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
  clientIp = clientIpKey(clientAddressOf(req.socket)),
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
    clientIp,
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

/** undici refuses to send these requests (a header or target it cannot express): the client's fault. */
const REFUSED_LOCALLY = new Set(["UND_ERR_INVALID_ARG", "UND_ERR_NOT_SUPPORTED"]);

/** Health reasons and logs keep the names node:http gave these failures. */
function reasonOf(code: string): string {
  if (code === "UND_ERR_CONNECT_TIMEOUT") return "ETIMEDOUT";
  if (code === "UND_ERR_SOCKET") return "ECONNRESET";
  return code;
}

/**
 * `Expect: 100-continue` was answered by our own server already; undici refuses the header, and
 * a member's `100` would be a second interim response. Rare, so the copy is only made when needed.
 */
function withoutExpect(headers: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2)
    if (headers[i]!.toLowerCase() !== "expect") out.push(headers[i]!, headers[i + 1]!);
  return out;
}

/**
 * A chunked request body stays chunked on the member hop (docs/http.md). Given the stream itself,
 * undici sends a `Content-Length` instead when the whole body is already buffered; as an iterable
 * its length stays unknown. The iterator is taken only when undici starts writing, so a connect
 * failure leaves the body unread for the retry.
 */
function chunksOf(req: http.IncomingMessage): Readable {
  const chunks: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => req[Symbol.asyncIterator]() };
  // undici accepts any async iterable as a body; its type declarations list only Readable.
  return chunks as unknown as Readable;
}

const EXCHANGE = Symbol("stickylb.exchange");
type TrackedResponse = http.ServerResponse & { [EXCHANGE]?: Exchange };

// Listeners shared by every request (`this` is the response): no closure per request.
function onClientClose(this: TrackedResponse): void {
  const exchange = this[EXCHANGE];
  if (exchange === undefined || this.writableFinished) return;
  exchange.clientGone = true;
  exchange.current?.cancel();
}

function onClientDrain(this: TrackedResponse): void {
  this[EXCHANGE]?.current?.resumeBody();
}

/** One request from the client, across its attempts (a retry or a stale-connection resend). */
class Exchange {
  clientGone = false;
  current: Attempt | undefined;
  readonly started: number;
  readonly options: Dispatcher.DispatchOptions;

  constructor(
    readonly req: http.IncomingMessage,
    readonly res: http.ServerResponse,
    readonly listener: ListenerModel,
    readonly env: HttpEnv,
    readonly clientIp: string,
    readonly pool: PoolRuntime,
    readonly sticky: StickyRequest,
    readonly withBody: boolean,
    chunked: boolean,
    started: number,
    headers: string[],
  ) {
    this.started = started;
    const memberMs = listener.timeouts.memberMs;
    this.options = {
      path: req.url ?? "/",
      method: (req.method ?? "GET") as Dispatcher.HttpMethod,
      headers,
      body: withBody ? (chunked ? chunksOf(req) : req) : null,
      headersTimeout: memberMs,
      bodyTimeout: memberMs,
    };
  }

  start(target: MemberRuntime, retried: boolean, staleRetried: boolean): void {
    const attempt = new Attempt(this, target, retried, staleRetried);
    this.current = attempt;
    this.env.agents.poolFor(target, this.listener.timeouts.connectMs).dispatch(this.options, attempt);
  }

  access(status: number, member: string | null): void {
    if (!this.listener.accessLog) return;
    const { env, req } = this;
    logAccess(env.ctx.log, {
      listener: this.listener.name,
      protocol: env.https ? "HTTPS" : "HTTP",
      client: this.clientIp,
      pool: this.pool.name,
      member,
      affinity: this.sticky.placement.result ?? "none",
      status,
      method: req.method,
      path: pathForLog(req.url),
      durationMs: env.ctx.clock.now() - this.started,
    });
  }

  fail(status: number, member: string | null = null): void {
    const counters = this.env.counters;
    if (status === 502) counters.badGateway++;
    counters.countResponse(this.pool.name, member ?? "", status);
    this.access(status, member);
    sendLocal(this.res, status, !this.req.complete);
  }
}

/** One attempt on one member: the undici dispatch handler (legacy callback form, the cheapest). */
class Attempt implements Dispatcher.DispatchHandler {
  private readonly finish: () => void;
  private connected = false;
  private responded = false;
  private status = 0;
  private abort: ((err?: Error) => void) | undefined;
  private resume: (() => void) | undefined;

  constructor(
    private readonly exchange: Exchange,
    private readonly target: MemberRuntime,
    private readonly retried: boolean,
    private readonly staleRetried: boolean,
  ) {
    this.finish = target.claim(exchange.req.socket);
  }

  /** The client went away: stop the upstream request (or refuse it when it gets a connection). */
  cancel(): void {
    this.abort?.();
  }

  resumeBody(): void {
    this.resume?.();
  }

  // Called once the request has a connection and before its head is written: from here on the
  // member may have seen it. The body is read only after this, so a connect failure leaves it
  // unread and the request can go to another member whatever its method.
  onConnect(abort: (err?: Error) => void): void {
    if (this.exchange.clientGone) {
      abort();
      return;
    }
    this.abort = abort;
    if (this.connected) return;
    this.connected = true;
    this.exchange.env.ctx.outcomes.connectSucceeded(this.target);
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    // 1xx interim responses (103 Early Hints) are not relayed, as with node:http before.
    if (status < 200) return true;
    const { exchange, target } = this;
    this.responded = true;
    this.status = status;
    this.resume = resume;
    // Header bytes as node:http gives them (latin1), converted once for both readers below.
    const rawHeaders = new Array<string>(raw.length);
    for (let i = 0; i < raw.length; i++) rawHeaders[i] = raw[i]!.toString("latin1");
    const out = responseHeadersForClient(rawHeaders);
    for (const cookie of exchange.sticky.answered(target, rawHeaders)) out.push("Set-Cookie", cookie);
    exchange.env.counters.countResponse(exchange.pool.name, target.endpoint, status);
    exchange.res.writeHead(status, statusText, out);
    return true;
  }

  // Back-pressure: a full client socket pauses the member connection until it drains.
  onData(chunk: Buffer): boolean {
    const res = this.exchange.res;
    if (res.write(chunk)) return true;
    res.once("drain", onClientDrain);
    return false;
  }

  onComplete(): void {
    this.exchange.res.end();
    this.finish();
    this.exchange.access(this.status, this.target.endpoint);
  }

  onError(err: UpstreamError): void {
    this.finish();
    const { exchange, target } = this;
    // A client that went away can fail the request body (undici then aborts with the body's
    // error) before its response emits 'close': not the member's failure either.
    if (exchange.clientGone || exchange.res.destroyed) return;
    const { counters, ctx } = exchange.env;
    const listener = exchange.listener.name;
    if (this.responded) {
      counters.responseAborts++;
      exchange.res.destroy();
      return;
    }
    const code = err.code ?? err.message;
    if (code === "UND_ERR_HEADERS_TIMEOUT") {
      counters.memberTimeouts++;
      ctx.log.debug({ listener, member: target.endpoint }, "member timeout");
      exchange.fail(504, target.endpoint);
      return;
    }
    // The request body failed on the client side (the client is going away): nothing to answer.
    if (code === "UND_ERR_ABORTED") {
      exchange.res.destroy();
      return;
    }
    if (!this.connected && REFUSED_LOCALLY.has(code)) {
      counters.malformed++;
      ctx.log.debug({ listener, err: err.message }, "request not forwardable");
      exchange.fail(400);
      return;
    }
    const reason = reasonOf(code);
    // A pooled connection the member closed while idle: not the member's failure; resend once.
    const reused = err[REUSED_SOCKET] ?? (err.socket?.bytesRead ?? 0) > 0;
    if (this.connected && reused && reason === "ECONNRESET" && !exchange.withBody && !this.staleRetried) {
      exchange.start(target, this.retried, true);
      return;
    }
    if (this.connected) counters.resets++;
    else counters.connectFailures++;
    ctx.outcomes.connectFailed(target, reason);
    ctx.log.debug(
      { listener, member: target.endpoint, err: reason, connected: this.connected },
      "member failed",
    );
    // SPEC 6.3/6.6: nothing sent → any method may go elsewhere; sent → only a bodiless idempotent one.
    const safe = !this.connected || (IDEMPOTENT.has(exchange.req.method ?? "") && !exchange.withBody);
    const next = this.retried || !safe ? undefined : exchange.pool.pick(exchange.clientIp, target);
    if (next === undefined) {
      exchange.fail(502);
      return;
    }
    counters.retries++;
    exchange.sticky.retried(next);
    exchange.start(next, true, this.staleRetried);
  }
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
  const route = routeAndPlace(req, listener, snapshot, env, clientIp);
  if (!route.ok) {
    counters.countResponse(route.pool, "", route.status);
    if (listener.accessLog)
      logAccess(ctx.log, {
        listener: listener.name,
        protocol: env.https ? "HTTPS" : "HTTP",
        client: clientIp,
        pool: route.pool,
        member: null,
        affinity: "none",
        status: route.status,
        method: req.method,
        path: pathForLog(req.url),
        durationMs: ctx.clock.now() - started,
      });
    sendLocal(res, route.status, route.status === 400 || !req.complete);
    return;
  }
  const headers = requestHeadersForMember(req.rawHeaders, {
    clientIp,
    proto: env.https ? "https" : "http",
    port: env.port,
    upgrade: undefined,
    // undici frames a body of unknown length as chunked itself and refuses the header.
    chunked: false,
  });
  const exchange = new Exchange(
    req,
    res,
    listener,
    env,
    clientIp,
    route.pool,
    route.sticky,
    hasBody(req),
    req.headers["transfer-encoding"] !== undefined,
    started,
    req.headers.expect === undefined ? headers : withoutExpect(headers),
  );
  (res as TrackedResponse)[EXCHANGE] = exchange;
  res.on("close", onClientClose);
  exchange.start(route.member, false, false);
}
