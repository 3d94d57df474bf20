/**
 * Forwards one HTTP request to a member and relays the response over the member's
 * keep-alive connections (`upstream/member-connections.ts`), speaking HTTP/1.1 on the socket itself:
 * the request head is rewritten once (hop-by-hop headers out, X-Forwarded-* in), the bodies in
 * both directions pass byte for byte (a chunked body stays chunked, trailers included), and only
 * the response head is rebuilt, to drop hop-by-hop headers and add the sticky cookie. One
 * {@link Exchange} object per request carries every callback on its prototype: no closure, no
 * promise, no stream object per request. Its request side is `http-exchange-request.ts`, its
 * response side `http-exchange-response.ts`; this module adds what happens when the member fails.
 *
 * Errors end in an answer and a counter: a connect failure is retried once on another member
 * (nothing was sent), a reset before any response byte only for a bodiless idempotent request, a
 * stale pooled connection is resent once; then 502. A member silent past `timeouts.member` gives
 * 504; a response that breaks after its head cuts the client connection.
 */
import { reportFault } from "../fault-guard.js";
import type { UpstreamConnection } from "../upstream/member-connections.js";
import { Body } from "./http-exchange-request.js";
import { ExchangeResponse } from "./http-exchange-response.js";
import { retryElsewhere } from "./retry.js";

export type { ClientSide } from "./http-exchange-request.js";
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
    ctx.log.debug({ listener: this.listener.name, member: this.target.endpoint }, "member timeout");
    this.answer(504, this.target.endpoint);
  }

  override onUpstreamError(code: string, closed: UpstreamConnection | undefined = this.conn): void {
    if (this.over) return;
    this.conn = undefined;
    this.releaseClaim();
    const { counters, ctx } = this.env;
    const target = this.target;
    if (this.responded) {
      counters.responseAborts++;
      this.settle();
      this.client.abort();
      return;
    }
    if (this.connected) {
      // A pooled connection the member closed while idle: not the member's failure; resend once.
      const stale = (closed?.served ?? 0) > 0 && STALE_CODES.has(code) && this.partialHead === undefined;
      if (stale && !this.hasBody && !this.staleRetried) {
        this.staleRetried = true;
        this.scanner.reset();
        this.attempt(target, true);
        return;
      }
      counters.resets++;
    } else {
      counters.connectFailures++;
    }
    ctx.outcomes.connectFailed(target, code);
    ctx.log.debug(
      { listener: this.listener.name, member: target.endpoint, err: code, connected: this.connected },
      "member failed",
    );
    // Nothing sent → any method may go elsewhere; sent → only a bodiless idempotent one.
    const safe = !this.connected || (IDEMPOTENT.has(this.head.method) && !this.hasBody);
    const next = retryElsewhere(this.pool, this.sticky, target, !this.retried && safe, counters);
    if (next === undefined) {
      counters.badGateway++;
      this.settle();
      this.answer(502, null);
      return;
    }
    this.retried = true;
    this.partialHead = undefined;
    this.scanner.reset();
    this.attempt(next, false);
  }

  /** A bug surfaced while handling the member connection: this request ends, the process goes on. */
  override onUpstreamFault(err: unknown): void {
    reportFault(this.env.ctx, "http_member", err, {
      listener: this.listener.name,
      member: this.target.endpoint,
    });
    this.conn = undefined;
    this.settle();
    this.client.abort();
  }
}
