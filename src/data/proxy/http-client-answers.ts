/**
 * The answering half of an HTTP client connection (`proxy/http-client-connection.ts`, which reads
 * and dispatches the requests): what an {@link Exchange} may do to its client — write, pause and
 * resume reading, end the request deadline, answer locally, finish or cut — and how the
 * connection's {@link Phase} moves when an exchange ends. One object per connection with the
 * reading half, through inheritance.
 */
import type { Socket } from "node:net";
import type { ListenerModel } from "../../core/model.js";
import { PendingBytes } from "../http1/pending-bytes.js";
import { logAccess, pathForLog } from "./access-log.js";
import type { ClientSide, Exchange, HttpEnv, ParsedRequest, RouteOutcome } from "./http-forward.js";
import { localResponse } from "./http-local.js";

/** What answering needs of the listener (the connection's `ConnectionHost` gives more). */
export interface AnsweringHost {
  readonly env: HttpEnv;
  /** The model the listener was started with (its name for logs). */
  readonly initial: ListenerModel;
}

/**
 * The life of a client connection, one state instead of a set of flags that could contradict each
 * other. Reading and parsing go on in `Serving`, `ClientDone` and `Closing`; the last two end the
 * connection once the response in flight is out.
 */
export enum Phase {
  /** Requests are read and answered; kept alive as the client asks. */
  Serving,
  /** The client sent FIN (half-open): answer what it sent, then close. */
  ClientDone,
  /** A drain (stop, removed listener): close after the response in flight, saying so. */
  Closing,
  /** Handed to the upgrade relay: this object no longer reads it. */
  Upgraded,
  /** Ending or closed: further bytes are ignored. */
  Ended,
}

export abstract class ClientConnectionAnswers implements ClientSide {
  protected readonly pending = new PendingBytes();
  protected exchange: Exchange | undefined;
  /** Where the connection is in its life (see {@link Phase}). */
  protected phase = Phase.Serving;
  private readingPaused = false;
  /** `timeouts.client` deadline of the request being read. */
  protected deadline: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: Socket,
    protected readonly host: AnsweringHost,
  ) {}

  abstract readonly clientIp: string;

  /** Reads the pending bytes into requests while no request is in flight. */
  protected abstract parseNext(): void;

  abstract upgraded(): Buffer | undefined;

  write(data: Buffer | string): boolean {
    return typeof data === "string" ? this.socket.write(data, "latin1") : this.socket.write(data);
  }

  pauseReading(): void {
    if (this.readingPaused) return;
    this.readingPaused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.readingPaused) return;
    this.readingPaused = false;
    this.socket.resume();
  }

  requestRead(): void {
    if (this.deadline !== undefined) {
      clearTimeout(this.deadline);
      this.deadline = undefined;
    }
  }

  answer(status: number, close: boolean): void {
    this.exchange = undefined;
    if (close) {
      this.phase = Phase.Ended;
      this.requestRead();
      // Read on, so that the client's own close is seen (a paused socket would wait for idle).
      this.resumeReading();
      if (this.socket.writable) this.socket.end(localResponse(status, true), "latin1");
      else this.socket.destroy();
      return;
    }
    this.socket.write(localResponse(status, this.phase === Phase.Closing), "latin1");
    this.exchangeDone(true);
  }

  exchangeDone(keepAlive: boolean): void {
    this.exchange = undefined;
    this.requestRead();
    if (!keepAlive || this.phase === Phase.Closing) {
      this.phase = Phase.Ended;
      this.resumeReading();
      this.socket.end();
      return;
    }
    this.resumeReading();
    if (this.pending.length > 0) this.parseNext();
    // A client that half-closed gets the answers to the requests it sent before its FIN, then FIN.
    if (this.phase === Phase.ClientDone && this.exchange === undefined) {
      this.phase = Phase.Ended;
      this.socket.end();
    }
  }

  abort(): void {
    this.exchange = undefined;
    this.phase = Phase.Ended;
    this.socket.destroy();
  }

  /** A request with no route (404) or no eligible member (503): counted, logged, answered. */
  protected answerUnrouted(request: ParsedRequest, route: RouteOutcome & { ok: false }): void {
    const { head, started, listener } = request;
    const { env } = this.host;
    const { counters, ctx } = env;
    counters.countResponse(route.pool, "", route.status);
    counters.durations.observe(route.pool, ctx.clock.now() - started);
    if (listener.accessLog)
      logAccess(ctx.log, {
        listener: listener.name,
        protocol: env.https ? "HTTPS" : "HTTP",
        client: this.clientIp,
        pool: route.pool,
        member: null,
        memberName: null,
        affinity: "none",
        status: route.status,
        method: head.method,
        path: pathForLog(head.target),
        durationMs: ctx.clock.now() - started,
      });
    // The body was not read: the connection cannot carry another request after it.
    this.answer(route.status, !request.keepAlive || request.framing.kind !== "none");
  }

  /** A request refused before any member saw it: counted, answered, and the connection closed. */
  protected refuse(status: number, reason: string): void {
    const { counters, ctx } = this.host.env;
    if (status === 431) counters.headerTooLarge++;
    else if (status === 408) counters.clientTimeouts++;
    else counters.malformed++;
    counters.countResponse("", "", status);
    // A client that was too slow (408) did nothing wrong with its bytes: no code for it.
    const code = status === 408 ? undefined : "SLB_ERR_DATA_BAD_REQUEST";
    ctx.log.debug({ listener: this.host.initial.name, status, reason, code }, "refused client request");
    this.pending.clear();
    this.answer(status, true);
  }
}
