/**
 * One client connection of an HTTP or HTTPS listener: reads request heads with the strict parser
 * (`data/http1`), refuses what is malformed before any member sees a byte (400, 431, 505,
 * then close), and hands each request to its exchange (`http-exchange-start.ts`; an upgrade is one
 * too, until a `101` hands the socket to the relay), one at a time: pipelined requests wait in
 * order behind the one in flight. Keep-alive follows the client
 * (HTTP/1.1 by default, HTTP/1.0 on request) and the listener's timeouts:
 *
 * - `timeouts.idle`: no byte between two requests → the connection is closed;
 * - `timeouts.client`: the whole request (head and body) must arrive within it → 408 and close.
 *
 * Each request reads the snapshot current when its head is complete, so a reload applies to the
 * next request of a kept-alive connection.
 */
import type { Socket } from "node:net";
import { clientIpKey } from "../../core/member.js";
import type { ListenerModel } from "../../core/model.js";
import { reportFault } from "../fault-guard.js";
import { FramingError, requestFraming } from "../http1/framing.js";
import {
  HeadError,
  HeadScanner,
  MAX_HEAD_BYTES,
  parseRequestHead,
  type RequestHead,
} from "../http1/head-parser.js";
import type { Snapshot } from "../snapshot.js";
import { type AnsweringHost, ClientConnectionAnswers, Phase } from "./http-client-answers.js";
import { exchangeFor } from "./http-exchange-start.js";
import { type ParsedRequest, routeAndPlace } from "./http-forward.js";
import { connectionInfo, headerCount } from "./http-headers.js";
import type { RouteOutcome } from "./http-route.js";

/** Pipelined bytes kept while a request is in flight; past this the client is paused. */
const PIPELINE_LIMIT = MAX_HEAD_BYTES;

/** What the listener gives each of its connections. */
export interface ConnectionHost extends AnsweringHost {
  /** The snapshot current now (read per request, so a reload applies to the next one). */
  currentSnapshot(): Snapshot;
  /**
   * The listener's key in a snapshot's compiled listeners; no entry once it left the
   * configuration. Two reads rather than one result object: no allocation per request.
   */
  readonly bindKey: string;
  readonly connections: Set<HttpClientConnection>;
}

/** Reads the requests of one client connection; its answering half is {@link ClientConnectionAnswers}. */
export class HttpClientConnection extends ClientConnectionAnswers {
  readonly clientIp: string;
  /** The listener's whole host (the base class types only what answering needs). */
  declare protected readonly host: ConnectionHost;
  private readonly scanner = new HeadScanner();
  private idleMs: number;
  private clientMs: number;
  private parsing = false;
  /**
   * A request head waits for the shared store's answer on a local miss (at most its 50 ms budget):
   * nothing else is parsed meanwhile, and bytes that arrive are kept (bounded) for after it.
   */
  private placing = false;

  // Socket events enter here; a bug below must cost one connection, never the process (the data
  // path never throws past a connection, docs/architecture.md).
  private readonly onData = (chunk: Buffer): void => {
    try {
      this.received(chunk);
    } catch (err) {
      this.fault(err);
    }
  };
  private readonly onTimeout = (): void => {
    try {
      this.idleTimeout();
    } catch (err) {
      this.fault(err);
    }
  };
  private readonly onDrain = (): void => {
    try {
      this.exchange?.responseDrained();
    } catch (err) {
      this.fault(err);
    }
  };

  /** `clientAddress`: the peer's, or the one its PROXY header carried (`listener/client-address.ts`). */
  constructor(socket: Socket, host: ConnectionHost, clientAddress: string | undefined) {
    super(socket, host);
    this.clientIp = clientIpKey(clientAddress);
    const timeouts = host.initial.timeouts;
    this.idleMs = timeouts.idleMs;
    this.clientMs = timeouts.clientMs;
    host.connections.add(this);
    socket.on("data", this.onData);
    socket.on("drain", this.onDrain);
    socket.on("timeout", this.onTimeout);
    socket.on("error", noop);
    socket.once("end", () => this.clientHalfClosed());
    socket.once("close", () => this.closed());
    socket.setTimeout(this.idleMs);
  }

  /** Requests may still be read and parsed. */
  private get reading(): boolean {
    return this.phase !== Phase.Ended && this.phase !== Phase.Upgraded;
  }

  /** No request in flight and none being read: can be closed without cutting anything. */
  get idle(): boolean {
    return (
      this.exchange === undefined &&
      !this.placing &&
      this.pending.length === 0 &&
      this.phase !== Phase.Upgraded
    );
  }

  /** Drain: close now if idle, else after the response in flight. */
  closeWhenIdle(): void {
    if (this.phase === Phase.Serving || this.phase === Phase.ClientDone) this.phase = Phase.Closing;
    if (this.idle) this.socket.destroy();
  }

  private received(chunk: Buffer): void {
    if (this.phase === Phase.Ended) return;
    const exchange = this.exchange;
    if (exchange !== undefined) {
      const used = exchange.requestDone ? 0 : exchange.feedBody(chunk, 0, chunk.length);
      if (used < chunk.length) {
        this.pending.append(used === 0 ? chunk : chunk.subarray(used));
        if (this.pending.length > PIPELINE_LIMIT) this.pauseReading();
      }
      return;
    }
    this.pending.append(chunk);
    if (this.placing) {
      if (this.pending.length > PIPELINE_LIMIT) this.pauseReading();
      return;
    }
    this.parseNext();
  }

  protected parseNext(): void {
    if (this.parsing) return;
    this.parsing = true;
    try {
      while (this.exchange === undefined && !this.placing && this.reading && this.pending.length > 0) {
        let buf = this.pending.view();
        // RFC 9112 2.2: empty lines before a request line are ignored (some clients send a CRLF
        // after a body).
        let skip = 0;
        while (skip + 1 < buf.length && buf[skip] === 13 && buf[skip + 1] === 10) skip += 2;
        if (skip > 0) {
          // The scanner may have seen a lone CR of this CRLF: it starts again on the real head.
          this.pending.consume(skip);
          this.scanner.reset();
          if (this.pending.length === 0) {
            this.requestRead();
            return;
          }
          buf = this.pending.view();
        }
        const end = this.scanner.feed(buf, 0, buf.length);
        if (end instanceof HeadError) {
          this.refuse(end.status, end.reason);
          return;
        }
        if (end === -1) {
          this.deadline ??= setTimeout(requestTimedOut, this.clientMs, this);
          return;
        }
        const head = parseRequestHead(buf, 0, end);
        if (head instanceof HeadError) {
          this.refuse(head.status, head.reason);
          return;
        }
        this.pending.consume(end);
        // The head is complete: the deadline of `timeouts.client` now only covers a body, if any.
        this.requestRead();
        this.dispatch(head);
      }
    } finally {
      this.parsing = false;
    }
  }

  private dispatch(head: RequestHead): void {
    const { env } = this.host;
    const { counters, ctx } = env;
    const snapshot = this.host.currentSnapshot();
    const compiled = snapshot.compiled.get(this.host.bindKey);
    if (compiled === undefined) {
      // The listener left the configuration and drains: serve nothing new on it.
      counters.countResponse("", "", 503);
      this.answer(503, true);
      return;
    }
    const listener = compiled.model;
    this.applyTimeouts(listener);
    const framing = requestFraming(head.raw, head.minor);
    if (framing instanceof FramingError) {
      this.refuse(400, framing.reason);
      return;
    }
    const hosts = headerCount(head.raw, "host");
    if (hosts > 1 || (hosts === 0 && head.minor === 1)) {
      this.refuse(400, hosts > 1 ? "several Host headers" : "no Host header");
      return;
    }
    if (head.method === "CONNECT") {
      counters.countResponse("", "", 405);
      this.answer(405, true);
      return;
    }
    const connection = connectionInfo(head.raw);
    const keepAlive = head.minor === 1 ? !connection.close : connection.keepAlive;
    const started = ctx.clock.now();
    const routed = routeAndPlace(head, compiled.routes, snapshot, env, this.clientIp, started);
    const request: ParsedRequest = { head, framing, hosts, connection, keepAlive, started, listener };
    if (!(routed instanceof Promise)) {
      this.forward(request, routed);
      return;
    }
    // A local miss in a shared pool: the store is asked first. The client may leave meanwhile.
    this.placing = true;
    routed.then((route) => {
      this.placing = false;
      try {
        if (this.phase === Phase.Ended || this.socket.destroyed) return;
        this.forward(request, route);
        // Reading may have been paused while the head waited; the exchange now takes the body.
        if (this.exchange !== undefined) this.resumeReading();
        else if (this.phase === Phase.ClientDone && this.pending.length === 0) {
          this.phase = Phase.Ended;
          this.socket.end();
        }
      } catch (err) {
        this.fault(err);
      }
    });
  }

  /** Answers a request that has been routed and placed: locally (no route, no member) or by a member. */
  private forward(request: ParsedRequest, route: RouteOutcome): void {
    const { env } = this.host;
    if (!route.ok) {
      this.answerUnrouted(request, route);
      return;
    }
    // An upgrade is an exchange too; only what follows a 101 differs (`http-upgrade.ts`).
    const exchange = exchangeFor(this, request, route, env);
    this.exchange = exchange;
    if (this.pending.length > 0) {
      const buf = this.pending.view();
      const used = exchange.feedBody(buf, 0, buf.length);
      this.pending.consume(used);
    }
    if (this.exchange !== exchange) return; // a malformed body already ended it
    if (!exchange.requestDone) this.deadline ??= setTimeout(requestTimedOut, this.clientMs, this);
    exchange.start();
  }

  private applyTimeouts(listener: ListenerModel): void {
    const { idleMs, clientMs } = listener.timeouts;
    this.clientMs = clientMs;
    if (idleMs !== this.idleMs) {
      this.idleMs = idleMs;
      this.socket.setTimeout(idleMs);
    }
  }

  /** An unexpected error while serving this connection: logged, and only this connection ends. */
  fault(err: unknown): void {
    reportFault(this.host.env.ctx, "http_client", err, { listener: this.host.initial.name });
    const exchange = this.exchange;
    this.exchange = undefined;
    try {
      exchange?.clientGone();
    } finally {
      this.abort();
    }
  }

  /** `timeouts.client` passed before the whole request arrived. */
  timedOut(): void {
    this.deadline = undefined;
    if (this.phase === Phase.Ended) return;
    const exchange = this.exchange;
    if (exchange === undefined) {
      this.refuse(408, "request head not complete in time");
      return;
    }
    // The body is late: the member never gets the rest; nothing more comes on this connection.
    this.exchange = undefined;
    exchange.clientGone();
    if (exchange.responded) {
      this.abort();
      return;
    }
    this.host.env.counters.clientTimeouts++;
    this.host.env.counters.countResponse("", "", 408);
    this.answer(408, true);
  }

  private clientHalfClosed(): void {
    if (this.phase === Phase.Serving) this.phase = Phase.ClientDone;
    // Nothing in flight: nothing to answer. Otherwise exchangeDone closes after the response.
    if (this.exchange === undefined && !this.placing && this.phase !== Phase.Upgraded) {
      this.phase = Phase.Ended;
      this.socket.end();
    }
  }

  private idleTimeout(): void {
    // A response waiting for the client to read (its socket buffer full) past `timeouts.idle`:
    // the client stopped reading; the member connection it holds paused is let go too.
    const exchange = this.exchange;
    if (exchange !== undefined && this.socket.writableNeedDrain) {
      this.host.env.counters.clientTimeouts++;
      this.exchange = undefined;
      exchange.clientGone();
      this.abort();
      return;
    }
    // A request in flight or a head being read has its own limits (member, client timeouts).
    if (exchange !== undefined || this.placing || (this.pending.length > 0 && this.phase !== Phase.Ended))
      return;
    this.socket.destroy();
  }

  /** The member switched protocols: this object stops reading; the bytes after the request go to the relay. */
  upgraded(): Buffer | undefined {
    this.exchange = undefined;
    this.phase = Phase.Upgraded;
    this.requestRead();
    this.socket.off("data", this.onData);
    this.socket.off("drain", this.onDrain);
    this.socket.off("timeout", this.onTimeout);
    this.socket.setTimeout(0);
    const rest = this.pending.length > 0 ? Buffer.from(this.pending.view()) : undefined;
    this.pending.clear();
    return rest;
  }

  private closed(): void {
    this.requestRead();
    this.host.connections.delete(this);
    this.phase = Phase.Ended;
    const exchange = this.exchange;
    this.exchange = undefined;
    exchange?.clientGone();
  }
}

function requestTimedOut(connection: HttpClientConnection): void {
  try {
    connection.timedOut();
  } catch (err) {
    connection.fault(err);
  }
}

function noop(): void {}
