/**
 * Forwards one HTTP request to a member and relays the response over the member's
 * keep-alive connections (`upstream/member-connections.ts`), speaking HTTP/1.1 on the socket itself:
 * the request head is rewritten once (hop-by-hop headers out, X-Forwarded-* in), the bodies in
 * both directions pass byte for byte (a chunked body stays chunked, trailers included), and only
 * the response head is rebuilt, to drop hop-by-hop headers and add the sticky cookie. One
 * {@link Exchange} object per request carries every callback on its prototype: no closure, no
 * promise, no stream object per request. Its attempts are `member-attempt.ts`'s, its request side
 * is `http-exchange-request.ts`, its response side `http-exchange-response.ts`; this module adds
 * what happens when the member fails. An upgrade is an exchange too (`http-upgrade.ts`).
 *
 * Errors end in an answer and a counter: a connect failure is retried once on another member
 * (nothing was sent), a reset before any response byte only for a bodiless idempotent request, a
 * stale pooled connection is resent once; then 502. A member silent past `timeouts.member` gives
 * 504; a response that breaks after its head cuts the client connection.
 */
import { reportFault } from "../fault-guard.js";
import type { UpstreamConnection } from "../upstream/upstream-connection.js";
import { Body } from "./http-exchange-request.js";
import { ExchangeResponse } from "./http-exchange-response.js";

export type { ClientSide, ParsedRequest } from "./http-exchange-request.js";
export type { HttpEnv, RouteOutcome } from "./http-route.js";
export { routeAndPlace } from "./http-route.js";

/** RFC 9110 9.2.2: a request that may be sent twice. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/** Member errors that, on a reused connection before any response byte, mean it was stale. */
const STALE_CODES = new Set(["ECONNRESET", "EPIPE", "ERR_STREAM_DESTROYED", "ERR_STREAM_WRITE_AFTER_END"]);

/** One request from the client, across its attempts (a retry, or a resend after a stale connection). */
export class Exchange extends ExchangeResponse {
  override onUpstreamEnd(): void {
    if (this.over) return;
    if (this.responded && this.responseKind === Body.UntilClose) {
      this.memberKeepAlive = false;
      this.responseComplete();
      return;
    }
    const conn = this.conn;
    this.conn = undefined;
    conn?.close();
    this.onUpstreamError("ECONNRESET", conn);
  }

  override onUpstreamTimeout(): void {
    // While the client is still sending the body the member is waiting for us, not silent; while
    // the member connection is paused for a slow client, the wait is the client's (its idle
    // timeout in http-client-connection.ts cuts a client that stops reading).
    if (this.over || !this.requestDone || this.conn?.socket.isPaused() === true) return;
    const { counters, ctx } = this.env;
    this.conn?.close();
    this.conn = undefined;
    this.settle();
    if (this.responded) {
      counters.responseAborts++;
      this.client.abort();
      return;
    }
    counters.memberTimeouts++;
    ctx.log.debug(
      { listener: this.listener.name, member: this.target.endpoint, code: "SLB_ERR_DATA_MEMBER_TIMEOUT" },
      "member timeout",
    );
    this.answer(504, this.target.endpoint);
  }

  override onUpstreamError(code: string, closed: UpstreamConnection | undefined = this.conn): void {
    if (this.over) return;
    const counters = this.env.counters;
    if (this.responded) {
      this.conn = undefined;
      counters.responseAborts++;
      this.settle();
      this.client.abort();
      return;
    }
    if (this.connected) {
      // A pooled connection the member closed while idle: not the member's failure; resend once.
      const stale = (closed?.served ?? 0) > 0 && STALE_CODES.has(code) && this.partialHead === undefined;
      if (stale && !this.hasBody && !this.staleRetried) {
        this.conn = undefined;
        this.releaseClaim();
        this.staleRetried = true;
        this.scanner.reset();
        this.attempt(this.target, true);
        return;
      }
      counters.resets++;
    }
    // A response head begun by the failed member is not the next one's.
    this.partialHead = undefined;
    this.scanner.reset();
    // Nothing sent → any method may go elsewhere; sent → only a bodiless idempotent one.
    const safe = !this.connected || (IDEMPOTENT.has(this.head.method) && !this.hasBody);
    if (this.retryAfterFailure(code, safe)) return;
    counters.badGateway++;
    this.settle();
    this.answer(502, null);
  }

  /** Where a bug on the member side is counted (`stickylb_internal_errors_total{where}`). */
  get faultSite(): "http_member" | "upgrade" {
    return "http_member";
  }

  /** A bug surfaced while handling the member connection: this request ends, the process goes on. */
  override onUpstreamFault(err: unknown): void {
    reportFault(this.env.ctx, this.faultSite, err, {
      listener: this.listener.name,
      member: this.target.endpoint,
    });
    this.conn = undefined;
    this.settle();
    this.client.abort();
  }
}
