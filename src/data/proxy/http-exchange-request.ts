/**
 * The request side of an HTTP exchange (`proxy/http-forward.ts`): the state every side shares (the
 * client, the placed member, the current attempt and its claim), the attempt itself, and the
 * request body from the client to the member — forwarded byte for byte, queued while no member
 * connection is there yet (a connect failure leaves it for the retry), paused by back-pressure —
 * and the two ways an exchange ends with stickylb's own answer (a counted, access-logged status).
 *
 * The three sides are one object through inheritance (request → response → the exchange with its
 * failures and retries), so a request still costs one object with every callback on its
 * prototype: no closure, no promise, no stream object per request.
 */
import type { Socket } from "node:net";
import type { ListenerModel } from "../../core/model.js";
import type { PlacedClient } from "../affinity/placement-front.js";
import { ChunkedDecoder, ChunkedError } from "../http1/chunked-decoder.js";
import type { BodyFraming } from "../http1/framing.js";
import type { RequestHead } from "../http1/head-parser.js";
import type { UpstreamConnection, UpstreamUser } from "../upstream/member-connections.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { PoolRuntime } from "../upstream/pool-runtime.js";
import { logAccess, pathForLog } from "./access-log.js";
import type { HttpEnv } from "./http-route.js";

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

/** Below this a head and the first body bytes are joined into one write. */
export const JOIN_LIMIT = 16_384;
/** Request bytes held while no member connection is there yet; past this the client is paused. */
const QUEUE_LIMIT = 65_536;

/** How a message body is delimited, as the exchange follows it. */
export enum Body {
  None,
  Length,
  Chunked,
  UntilClose,
}

export function kindOf(framing: BodyFraming): Body {
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

/** One request from the client across its attempts: the request side and the shared state. */
export abstract class ExchangeRequest implements UpstreamUser {
  // Request side.
  /** Every request byte has been read from the client. */
  requestDone: boolean;
  protected readonly hasBody: boolean;
  protected bodyLeft: number;
  protected readonly requestDecoder: ChunkedDecoder | undefined;
  /** Request body bytes read before a member connection was there. */
  protected queued: Buffer[] | undefined;
  protected queuedBytes = 0;
  /** Upstream write buffer full: the client is paused until it drains. */
  protected bodyPaused = false;

  // Current attempt.
  protected conn: UpstreamConnection | undefined;
  protected target: MemberRuntime;
  /** The member this attempt is counted on (`MemberRuntime.enter`), until {@link releaseClaim}. */
  protected claimed: MemberRuntime | undefined;
  protected connected = false;
  protected retried = false;
  protected staleRetried = false;

  // Shared by the sides.
  /** The response head went to the client. */
  responded = false;
  protected closeClient: boolean;
  /** The exchange is over for its member: further events are ignored. */
  protected over = false;

  constructor(
    protected readonly client: ClientSide,
    protected readonly head: RequestHead,
    framing: BodyFraming,
    protected readonly requestHead: string,
    clientKeepAlive: boolean,
    protected readonly listener: ListenerModel,
    protected readonly env: HttpEnv,
    protected readonly pool: PoolRuntime,
    protected readonly sticky: PlacedClient,
    protected readonly started: number,
  ) {
    this.target = sticky.member!;
    this.closeClient = !clientKeepAlive;
    const kind = kindOf(framing);
    this.hasBody = kind !== Body.None;
    this.requestDone = !this.hasBody;
    this.bodyLeft = framing.kind === "length" ? framing.length : 0;
    this.requestDecoder = kind === Body.Chunked ? new ChunkedDecoder() : undefined;
  }

  abstract onUpstreamData(chunk: Buffer): void;
  abstract onUpstreamEnd(): void;
  abstract onUpstreamError(code: string): void;
  abstract onUpstreamTimeout(): void;
  abstract onUpstreamFault(err: unknown): void;

  /** Starts the first attempt on the placed member. */
  start(): void {
    this.attempt(this.target, false);
  }

  protected attempt(target: MemberRuntime, fresh: boolean): void {
    this.target = target;
    this.connected = false;
    this.conn = undefined;
    target.enter(this.client.socket);
    this.claimed = target;
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

  protected bodyComplete(): void {
    this.requestDone = true;
    this.client.requestRead();
  }

  protected forwardBody(piece: Buffer): void {
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

  protected malformedBody(reason: string): void {
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

  /** The exchange is over for this member: release the claim, ignore further events. */
  protected settle(): void {
    this.over = true;
    this.releaseClaim();
  }

  /** Idempotent: error and completion paths may both call it. */
  protected releaseClaim(): void {
    const member = this.claimed;
    if (member === undefined) return;
    this.claimed = undefined;
    member.leave(this.client.socket);
  }

  /** The client went away: stop the member request, keep nothing. */
  clientGone(): void {
    if (this.over) return;
    this.settle();
    this.conn?.close();
    this.conn = undefined;
  }

  /** stickylb's own answer (502, 504…), counted and logged like a forwarded one. */
  protected answer(status: number, member: string | null): void {
    this.env.counters.countResponse(this.pool.name, member ?? "", status);
    this.access(status, member);
    this.client.answer(status, this.closeClient || !this.requestDone);
  }

  /** The response is complete (or stickylb answered): one duration, and the access log line. */
  protected access(status: number, member: string | null): void {
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
