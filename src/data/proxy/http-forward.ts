/**
 * Forwards one HTTP request to a member and relays the response (SPEC 6.6) over the member's
 * keep-alive connections (`upstream/member-connections.ts`), speaking HTTP/1.1 on the socket itself:
 * the request head is rewritten once (hop-by-hop headers out, X-Forwarded-* in), the bodies in
 * both directions pass byte for byte (a chunked body stays chunked, trailers included), and only
 * the response head is rebuilt, to drop hop-by-hop headers and add the sticky cookie. One
 * {@link Exchange} object per request carries every callback on its prototype: no closure, no
 * promise, no stream object per request (issue 7 profile).
 *
 * Errors end in an answer and a counter: a connect failure is retried once on another member
 * (nothing was sent), a reset before any response byte only for a bodiless idempotent request, a
 * stale pooled connection is resent once; then 502. A member silent past `timeouts.member` gives
 * 504; a response that breaks after its head cuts the client connection.
 */
import type { Socket } from "node:net";
import type { ListenerModel } from "../../core/model.js";
import type { PlacedClient } from "../affinity/placement-front.js";
import { reportFault } from "../fault-guard.js";
import { ChunkedDecoder, ChunkedError } from "../http1/chunked-decoder.js";
import { type BodyFraming, FramingError, responseFraming } from "../http1/framing.js";
import {
  HeadError,
  HeadScanner,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from "../http1/head-parser.js";
import type { UpstreamConnection, UpstreamUser } from "../upstream/member-connections.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { PoolRuntime } from "../upstream/pool-runtime.js";
import { logAccess, pathForLog } from "./access-log.js";
import { connectionInfo, responseHeadersForClient } from "./http-headers.js";
import { rawHead } from "./http-local.js";
import type { HttpEnv } from "./http-route.js";

export type { HttpEnv, RouteOutcome } from "./http-route.js";
export { routeAndPlace } from "./http-route.js";

import { retryElsewhere } from "./retry.js";

/** The client connection, as an exchange sees it (`proxy/http-client-connection.ts`). */
export interface ClientSide {
  readonly socket: Socket;
  readonly clientIp: string;
  /** Stop/restart reading the client (back-pressure of the request body). */
  pauseReading(): void;
  resumeReading(): void;
  /** The whole request has been read from the client (ends its `timeouts.client` deadline). */
  requestRead(): void;
  /** Writes to the client; false when its buffer is full (wait for `responseDrained`). */
  write(data: Buffer | string): boolean;
  /** A local answer (404, 502…); `close` ends the connection after it. */
  answer(status: number, close: boolean): void;
  /** The exchange is over; `keepAlive` false closes the connection once the response is flushed. */
  exchangeDone(keepAlive: boolean): void;
  /** Cut the client connection now (a response broke after its head). */
  abort(): void;
}

/** RFC 9110 9.2.2: a request that may be sent twice. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
/** Below this a response head and its first body bytes are joined into one write. */
const JOIN_LIMIT = 16_384;
/** Request bytes held while no member connection is there yet; past this the client is paused. */
const QUEUE_LIMIT = 65_536;

enum Body {
  None,
  Length,
  Chunked,
  UntilClose,
}

function kindOf(framing: BodyFraming): Body {
  switch (framing.kind) {
    case "none":
      return Body.None;
    case "length":
      return Body.Length;
    case "chunked":
      return Body.Chunked;
    case "close":
      return Body.UntilClose;
  }
}

/** Member errors that, on a reused connection before any response byte, mean it was stale. */
const STALE_CODES = new Set(["ECONNRESET", "EPIPE", "ERR_STREAM_DESTROYED", "ERR_STREAM_WRITE_AFTER_END"]);

/** One request from the client, across its attempts (a retry, or a resend after a stale connection). */
export class Exchange implements UpstreamUser {
  // Request side.
  /** Every request byte has been read from the client. */
  requestDone: boolean;
  private readonly hasBody: boolean;
  private bodyLeft: number;
  private readonly requestDecoder: ChunkedDecoder | undefined;
  /** Request body bytes read before a member connection was there. */
  private queued: Buffer[] | undefined;
  private queuedBytes = 0;
  /** Upstream write buffer full: the client is paused until it drains. */
  private bodyPaused = false;

  // Current attempt.
  private conn: UpstreamConnection | undefined;
  private target: MemberRuntime;
  private finishClaim: (() => void) | undefined;
  private connected = false;
  private retried = false;
  private staleRetried = false;

  // Response side.
  private readonly scanner = new HeadScanner();
  private partialHead: Buffer | undefined;
  /** The response head went to the client. */
  responded = false;
  private status = 0;
  private responseKind = Body.None;
  private responseLeft = 0;
  private responseDecoder: ChunkedDecoder | undefined;
  private memberKeepAlive = true;
  private trailingBytes = false;
  private closeClient: boolean;
  private over = false;

  constructor(
    private readonly client: ClientSide,
    private readonly head: RequestHead,
    framing: BodyFraming,
    private readonly requestHead: string,
    clientKeepAlive: boolean,
    private readonly listener: ListenerModel,
    private readonly env: HttpEnv,
    private readonly pool: PoolRuntime,
    private readonly sticky: PlacedClient,
    private readonly started: number,
  ) {
    this.target = sticky.member!;
    this.closeClient = !clientKeepAlive;
    const kind = kindOf(framing);
    this.hasBody = kind !== Body.None;
    this.requestDone = !this.hasBody;
    this.bodyLeft = framing.kind === "length" ? framing.length : 0;
    this.requestDecoder = kind === Body.Chunked ? new ChunkedDecoder() : undefined;
  }

  /** Starts the first attempt on the placed member. */
  start(): void {
    this.attempt(this.target, false);
  }

  private attempt(target: MemberRuntime, fresh: boolean): void {
    this.target = target;
    this.connected = false;
    this.conn = undefined;
    this.finishClaim = target.claim(this.client.socket);
    const timeouts = this.listener.timeouts;
    this.env.agents.poolFor(target).acquire(this, timeouts.connectMs, timeouts.memberMs, fresh);
  }

  // ---- request body, from the client --------------------------------------------------------

  /**
   * Request body bytes from the client: forwards (or queues) what belongs to this request and
   * returns the index past its last byte; what follows is the next (pipelined) request.
   */
  feedBody(buf: Buffer, start: number, end: number): number {
    if (this.requestDone) return start;
    let stop: number;
    if (this.requestDecoder !== undefined) {
      try {
        stop = this.requestDecoder.feed(buf, start, end);
      } catch (err) {
        // Only a framing error of the body is the client's fault (400); anything else is a bug.
        if (!(err instanceof ChunkedError)) throw err;
        this.malformedBody(err.message);
        return end;
      }
      if (this.requestDecoder.done) this.bodyComplete();
    } else {
      stop = Math.min(end, start + this.bodyLeft);
      this.bodyLeft -= stop - start;
      if (this.bodyLeft === 0) this.bodyComplete();
    }
    if (stop > start && !this.over)
      this.forwardBody(start === 0 && stop === buf.length ? buf : buf.subarray(start, stop));
    return stop;
  }

  private bodyComplete(): void {
    this.requestDone = true;
    this.client.requestRead();
  }

  private forwardBody(piece: Buffer): void {
    const conn = this.conn;
    if (conn === undefined || !this.connected) {
      this.queued ??= [];
      this.queued.push(piece);
      this.queuedBytes += piece.length;
      if (this.queuedBytes > QUEUE_LIMIT && !this.bodyPaused) {
        this.bodyPaused = true;
        this.client.pauseReading();
      }
      return;
    }
    if (!conn.write(piece) && !this.bodyPaused) {
      this.bodyPaused = true;
      this.client.pauseReading();
    }
  }

  onUpstreamDrain(): void {
    if (!this.bodyPaused || this.over) return;
    this.bodyPaused = false;
    this.client.resumeReading();
  }

  private malformedBody(reason: string): void {
    const { counters, ctx } = this.env;
    counters.malformed++;
    ctx.log.debug({ listener: this.listener.name, reason }, "malformed request body");
    this.conn?.close();
    this.conn = undefined;
    this.settle();
    if (this.responded) this.client.abort();
    else this.answer(400, null);
  }

  // ---- the member connection ----------------------------------------------------------------

  onUpstreamConnect(conn: UpstreamConnection): void {
    if (this.over) {
      conn.close();
      return;
    }
    this.conn = conn;
    this.connected = true;
    this.env.ctx.outcomes.connectSucceeded(this.target);
    const queued = this.queued;
    if (queued === undefined) {
      conn.write(this.requestHead);
    } else {
      // Sent only once there is a connection: a connect failure leaves the body for the retry.
      this.queued = undefined;
      const head = this.requestHead;
      if (head.length + this.queuedBytes <= JOIN_LIMIT) {
        const out = Buffer.allocUnsafe(head.length + this.queuedBytes);
        let at = out.write(head, 0, "latin1");
        for (const piece of queued) at += piece.copy(out, at);
        conn.write(out);
      } else {
        conn.socket.cork();
        conn.write(head);
        for (const piece of queued) conn.write(piece);
        conn.socket.uncork();
      }
      this.queuedBytes = 0;
      if (this.bodyPaused) {
        this.bodyPaused = false;
        this.client.resumeReading();
      }
    }
  }

  onUpstreamData(chunk: Buffer): void {
    if (this.over) return;
    if (this.responded) {
      this.relayBody(chunk);
      return;
    }
    let buf = chunk;
    if (this.partialHead !== undefined) {
      buf = Buffer.concat([this.partialHead, chunk]);
      this.partialHead = undefined;
    }
    let start = 0;
    for (;;) {
      const end = this.scanner.feed(buf, start, buf.length);
      if (end instanceof HeadError) {
        this.badResponse(end.reason);
        return;
      }
      if (end === -1) {
        this.partialHead = start === 0 ? buf : buf.subarray(start);
        return;
      }
      const head = parseResponseHead(buf, start, end);
      if (head instanceof HeadError) {
        this.badResponse(head.reason);
        return;
      }
      if (head.status >= 200) {
        this.beginResponse(head, buf, end);
        return;
      }
      if (head.status === 101) {
        this.badResponse("101 to a request that asked for no upgrade");
        return;
      }
      // 1xx interim responses (100 Continue, 103 Early Hints) go to HTTP/1.1 clients as they come.
      if (this.head.minor === 1) this.client.write(interimHead(head));
      start = end;
      if (start === buf.length) return;
    }
  }

  private beginResponse(head: ResponseHead, buf: Buffer, bodyStart: number): void {
    const framing = responseFraming(head.raw, head.status, this.head.method);
    if (framing instanceof FramingError) {
      this.badResponse(framing.reason);
      return;
    }
    const { env, target } = this;
    this.responded = true;
    this.status = head.status;
    const connection = connectionInfo(head.raw);
    this.memberKeepAlive = head.minor === 1 ? !connection.close : connection.keepAlive;
    this.responseKind = kindOf(framing);
    this.responseLeft = framing.kind === "length" ? framing.length : 0;
    const out = responseHeadersForClient(head.raw, false, connection);
    out.push(...this.sticky.answered(target, head.raw));
    env.counters.countResponse(this.pool.name, target.endpoint, head.status);

    // A response that comes before the whole request body leaves the client stream mid-body.
    if (!this.requestDone) this.closeClient = true;
    let dechunk = false;
    // The member's codings are relayed as they were (`gzip, chunked` stays so), also on HEAD.
    const codings = this.head.minor === 1 ? transferCodings(head.raw) : undefined;
    if (this.responseKind === Body.Chunked) {
      if (codings !== undefined) out.push("Transfer-Encoding", codings);
      else {
        // An HTTP/1.0 client cannot read chunks: it gets the data, ended by the close.
        dechunk = true;
        this.closeClient = true;
      }
    } else {
      if (codings !== undefined) out.push("Transfer-Encoding", codings);
      if (this.responseKind === Body.UntilClose) this.closeClient = true;
    }
    if (this.closeClient) out.push("Connection", "close");
    else if (this.head.minor === 0) out.push("Connection", "keep-alive");
    const text = rawHead(head.status, head.reason, out);

    if (this.responseKind === Body.Chunked) {
      const client = this.client;
      this.responseDecoder = dechunk
        ? new ChunkedDecoder((b, s, e) => client.write(b.subarray(s, e)))
        : new ChunkedDecoder();
    }
    if (dechunk || this.responseKind === Body.None || bodyStart === buf.length) {
      this.client.write(text);
      if (this.responseKind === Body.None) {
        this.trailingBytes = bodyStart < buf.length;
        this.responseComplete();
      } else if (bodyStart < buf.length) this.relayBody(buf.subarray(bodyStart));
      return;
    }
    // Head and first body bytes in one write: one syscall, one TCP segment for small responses.
    let end: number;
    try {
      end = this.bodyEnd(buf, bodyStart);
    } catch (err) {
      if (!(err instanceof ChunkedError)) throw err;
      this.badResponse(err.message);
      return;
    }
    if (text.length + (end - bodyStart) <= JOIN_LIMIT) {
      const joined = Buffer.allocUnsafe(text.length + (end - bodyStart));
      const at = joined.write(text, 0, "latin1");
      buf.copy(joined, at, bodyStart, end);
      this.writeBody(joined);
    } else {
      this.client.write(text);
      this.writeBody(buf.subarray(bodyStart, end));
    }
    this.afterBody(end, buf.length);
  }

  /** Where this response's bytes end in `buf` from `start`; advances the framing state. */
  private bodyEnd(buf: Buffer, start: number): number {
    switch (this.responseKind) {
      case Body.Length: {
        const end = Math.min(buf.length, start + this.responseLeft);
        this.responseLeft -= end - start;
        return end;
      }
      case Body.Chunked:
        return this.responseDecoder!.feed(buf, start, buf.length);
      default:
        return buf.length;
    }
  }

  private get bodyFinished(): boolean {
    switch (this.responseKind) {
      case Body.Length:
        return this.responseLeft === 0;
      case Body.Chunked:
        return this.responseDecoder!.done;
      case Body.None:
        return true;
      default:
        return false;
    }
  }

  private relayBody(chunk: Buffer): void {
    let end: number;
    try {
      end = this.bodyEnd(chunk, 0);
    } catch (err) {
      if (!(err instanceof ChunkedError)) throw err;
      this.responseBroke(err.message);
      return;
    }
    if (this.responseDecoder === undefined || this.head.minor === 1)
      this.writeBody(end === chunk.length ? chunk : chunk.subarray(0, end));
    this.afterBody(end, chunk.length);
  }

  private writeBody(piece: Buffer): void {
    if (piece.length === 0) return;
    // Back-pressure: a client that reads slowly pauses the member connection until it drains.
    if (!this.client.write(piece)) this.conn?.socket.pause();
  }

  /** The client's socket drained. */
  responseDrained(): void {
    const socket = this.conn?.socket;
    if (socket?.isPaused() !== true) return;
    socket.resume();
    // The time spent paused was the client's, not the member's: without this the member timeout,
    // which counted on while paused, can fire between the resume and the next read on a busy loop.
    if (socket.timeout !== undefined && socket.timeout > 0) socket.setTimeout(socket.timeout);
  }

  private afterBody(end: number, length: number): void {
    if (!this.bodyFinished) return;
    this.trailingBytes = end < length;
    this.responseComplete();
  }

  onUpstreamEnd(): void {
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

  onUpstreamTimeout(): void {
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

  onUpstreamError(code: string, closed: UpstreamConnection | undefined = this.conn): void {
    if (this.over) return;
    this.conn = undefined;
    this.finishClaim?.();
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
    // SPEC 6.3/6.6: nothing sent → any method may go elsewhere; sent → only a bodiless idempotent one.
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
  onUpstreamFault(err: unknown): void {
    reportFault(this.env.ctx, "http_member", err, {
      listener: this.listener.name,
      member: this.target.endpoint,
    });
    this.conn = undefined;
    this.settle();
    this.client.abort();
  }

  /** The member answered something that is not HTTP: 502, and the connection is not reused. */
  private badResponse(reason: string): void {
    const { counters, ctx } = this.env;
    ctx.log.debug({ listener: this.listener.name, member: this.target.endpoint, reason }, "bad response");
    this.conn?.close();
    this.conn = undefined;
    this.settle();
    counters.badGateway++;
    this.answer(502, this.target.endpoint);
  }

  /** The response broke after its head went out: the client connection is cut. */
  private responseBroke(reason: string): void {
    this.env.ctx.log.debug(
      { listener: this.listener.name, member: this.target.endpoint, reason },
      "response broke",
    );
    this.env.counters.responseAborts++;
    this.conn?.close();
    this.conn = undefined;
    this.settle();
    this.client.abort();
  }

  private responseComplete(): void {
    const conn = this.conn;
    this.conn = undefined;
    this.settle();
    if (conn !== undefined) {
      const reusable =
        this.memberKeepAlive &&
        this.responseKind !== Body.UntilClose &&
        !this.trailingBytes &&
        this.requestDone;
      if (reusable) conn.release();
      else conn.close();
    }
    this.access(this.status, this.target.endpoint);
    // A response that came before the whole request body leaves the client stream mid-body.
    this.client.exchangeDone(!this.closeClient && this.requestDone);
  }

  /** The exchange is over for this member: release the claim, ignore further events. */
  private settle(): void {
    this.over = true;
    this.finishClaim?.();
    this.finishClaim = undefined;
  }

  /** The client went away: stop the member request, keep nothing. */
  clientGone(): void {
    if (this.over) return;
    this.settle();
    this.conn?.close();
    this.conn = undefined;
  }

  /** stickylb's own answer (502, 504…), counted and logged like a forwarded one. */
  private answer(status: number, member: string | null): void {
    this.env.counters.countResponse(this.pool.name, member ?? "", status);
    this.access(status, member);
    this.client.answer(status, this.closeClient || !this.requestDone);
  }

  /** The response is complete (or stickylb answered): one duration, and the access log line. */
  private access(status: number, member: string | null): void {
    const { env, head } = this;
    const durationMs = env.ctx.clock.now() - this.started;
    env.counters.durations.observe(this.pool.name, durationMs);
    if (!this.listener.accessLog) return;
    logAccess(env.ctx.log, {
      listener: this.listener.name,
      protocol: env.https ? "HTTPS" : "HTTP",
      client: this.client.clientIp,
      pool: this.pool.name,
      member,
      memberName: member === null ? null : (this.target.name ?? null),
      affinity: this.sticky.result ?? "none",
      status,
      method: head.method,
      path: pathForLog(head.target),
      durationMs,
    });
  }
}

/** The member's `Transfer-Encoding` values joined, or undefined when it sent none. */
function transferCodings(raw: readonly string[]): string | undefined {
  let codings: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 17 || name.toLowerCase() !== "transfer-encoding") continue;
    codings = codings === undefined ? raw[i + 1]! : `${codings}, ${raw[i + 1]!}`;
  }
  return codings;
}

function interimHead(head: ResponseHead): string {
  return rawHead(head.status, head.reason, responseHeadersForClient(head.raw));
}
