/**
 * The response side of an HTTP exchange (`proxy/http-forward.ts`): reads the member's response
 * head (interim 1xx heads pass to HTTP/1.1 clients), rebuilds it for the client (hop-by-hop
 * headers out, the sticky cookie in), relays the body byte for byte following its framing (a
 * chunked body stays chunked, trailers included; an HTTP/1.0 client gets it dechunked), with
 * back-pressure from the client onto the member connection, and decides whether that connection
 * can be reused.
 */
import { ChunkedDecoder, ChunkedError } from "../http1/chunked-decoder.js";
import { FramingError, responseFraming } from "../http1/framing.js";
import { HeadError, HeadScanner, parseResponseHead, type ResponseHead } from "../http1/head-parser.js";
import { Body, ExchangeRequest, JOIN_LIMIT, kindOf } from "./http-exchange-request.js";
import { connectionInfo, responseHeadersForClient } from "./http-headers.js";
import { rawHead } from "./http-local.js";

/** The response side of one exchange; {@link Exchange} adds member failures and retries. */
export abstract class ExchangeResponse extends ExchangeRequest {
  protected readonly scanner = new HeadScanner();
  protected partialHead: Buffer | undefined;
  protected status = 0;
  protected responseKind = Body.None;
  protected responseLeft = 0;
  protected responseDecoder: ChunkedDecoder | undefined;
  protected memberKeepAlive = true;
  protected trailingBytes = false;
  /**
   * Bytes from the member that arrived while its answer waits for the state store (see `holdHead`;
   * an upgrade's `101` waits the same way): kept in order, relayed after the head.
   */
  protected heldBody: Buffer[] | undefined;

  override onUpstreamData(chunk: Buffer): void {
    if (this.over) return;
    if (this.heldBody !== undefined) {
      this.heldBody.push(chunk);
      return;
    }
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
        this.switchProtocols(head, buf, end);
        return;
      }
      // 1xx interim responses (100 Continue, 103 Early Hints) go to HTTP/1.1 clients as they come.
      if (this.head.minor === 1) this.client.write(interimHead(head));
      start = end;
      if (start === buf.length) return;
    }
  }

  /**
   * The member answered `101 Switching Protocols`; `buf` from `rest` holds what it sent after.
   * Only an upgrade exchange (`http-upgrade.ts`) asked for it.
   */
  protected switchProtocols(_head: ResponseHead, _buf: Buffer, _rest: number): void {
    this.badResponse("101 to a request that asked for no upgrade");
  }

  protected beginResponse(head: ResponseHead, buf: Buffer, bodyStart: number): void {
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
    // A loop, not a spread: most responses add nothing, and a spread costs an iterator each time.
    const added = this.sticky.answered(target, head.raw);
    for (let i = 0; i < added.length; i++) out.push(added[i]!);
    env.counters.countResponse(this.pool.name, target.endpoint, head.status);
    const storeAck = this.sticky.storeAck;
    if (storeAck !== undefined) this.holdHead(storeAck, head, buf, bodyStart, out);
    else this.sendHead(head, buf, bodyStart, out);
  }

  /**
   * The response taught a binding the shared store has not acknowledged yet: its head waits for
   * the store (at most the store's budget, docs/shared-state.md), so that the client's next
   * request finds the binding whichever replica it reaches. The member connection is paused
   * meanwhile; bytes that still arrive are kept and relayed after the head. `buf` is kept too,
   * which is safe because a member connection's chunks are fresh buffers (never a reused one).
   */
  private holdHead(
    storeAck: Promise<void>,
    head: ResponseHead,
    buf: Buffer,
    bodyStart: number,
    out: string[],
  ): void {
    this.heldBody = [];
    this.conn?.socket.pause();
    storeAck.then(() => {
      const held = this.heldBody ?? [];
      this.heldBody = undefined;
      if (this.over) return;
      try {
        this.sendHead(head, buf, bodyStart, out);
        for (const chunk of held) if (!this.over) this.relayBody(chunk);
        if (!this.over && this.client.socket.writableNeedDrain !== true) this.conn?.socket.resume();
      } catch (err) {
        // Not a callback of the member connection (whose own guard closes it): close it here, or
        // the paused socket would stay open, lent to an exchange that is over.
        this.conn?.close();
        this.onUpstreamFault(err);
      }
    });
  }

  /** Sends the response head (with the first body bytes when they fit) and follows the body. */
  private sendHead(head: ResponseHead, buf: Buffer, bodyStart: number, out: string[]): void {
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
  protected bodyEnd(buf: Buffer, start: number): number {
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

  protected get bodyFinished(): boolean {
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

  protected relayBody(chunk: Buffer): void {
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

  protected writeBody(piece: Buffer): void {
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

  protected afterBody(end: number, length: number): void {
    if (!this.bodyFinished) return;
    this.trailingBytes = end < length;
    this.responseComplete();
  }

  /** The member answered something that is not HTTP: 502, and the connection is not reused. */
  protected badResponse(reason: string): void {
    const { counters, ctx } = this.env;
    ctx.log.debug(
      {
        listener: this.listener.name,
        member: this.target.endpoint,
        reason,
        code: "SLB_ERR_DATA_BAD_RESPONSE",
      },
      "bad response",
    );
    this.conn?.close();
    this.conn = undefined;
    this.settle();
    counters.badGateway++;
    this.answer(502, this.target.endpoint);
  }

  /** The response broke after its head went out: the client connection is cut. */
  protected responseBroke(reason: string): void {
    this.env.ctx.log.debug(
      {
        listener: this.listener.name,
        member: this.target.endpoint,
        reason,
        code: "SLB_ERR_DATA_BAD_RESPONSE",
      },
      "response broke",
    );
    this.env.counters.responseAborts++;
    this.conn?.close();
    this.conn = undefined;
    this.settle();
    this.client.abort();
  }

  protected responseComplete(): void {
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
