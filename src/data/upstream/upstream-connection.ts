/**
 * One plain TCP connection towards a member and the user it is lent to (`UpstreamUser`: the
 * attempt of `proxy/member-attempt.ts`). Every socket event reaches the user as a method call, in
 * a `try`, so a bug in the user fails one request and never the process. A connection either
 * belongs to a keep-alive pool (`member-connections.ts`), which takes it back between requests,
 * or is a connection of its own (`connectMember`), handed over as a bare socket once connected.
 */
import * as net from "node:net";

/** Where a pooled connection goes back between requests (the member's pool). */
export interface ConnectionKeeper {
  /** A released connection, kept idle for the next request (or closed). */
  keep(conn: UpstreamConnection): void;
  /** An idle connection that closed. */
  forget(conn: UpstreamConnection): void;
}

/** What uses a connection while it is lent: the forwarding attempt. */
export interface UpstreamUser {
  /** The connection is established (immediately for a pooled one). */
  onUpstreamConnect(conn: UpstreamConnection): void;
  onUpstreamData(chunk: Buffer): void;
  /** The member ended its side (FIN). */
  onUpstreamEnd(): void;
  /** Connect failure, reset, or close; `code` as Node names it (`ECONNREFUSED`, `ETIMEDOUT`…). */
  onUpstreamError(code: string): void;
  /** No byte either way for the time set by {@link UpstreamConnection.setActivityTimeout}. */
  onUpstreamTimeout(): void;
  /** The socket's write buffer drained (request body back-pressure). */
  onUpstreamDrain(): void;
  /** One of the calls above threw (a bug): the connection is closed; the user ends its request. */
  onUpstreamFault(err: unknown): void;
}

/** A socket event listener, as `net.Socket.on` takes it. */
type SocketListener = Parameters<net.Socket["off"]>[1];

enum ConnState {
  Connecting,
  Lent,
  Idle,
  Closed,
  /** Handed over as a bare socket (`detach`): nothing here touches it any more. */
  Detached,
}

export class UpstreamConnection {
  state = ConnState.Connecting;
  /** Responses this connection has carried: a reset on a reused connection is the stale case. */
  served = 0;
  user: UpstreamUser | undefined;
  private timeoutMs = 0;

  // One listener per event for the connection's life; each body is a method, in a try so that a
  // throw (a bug in the user) closes this connection and fails one request, not the process. Kept
  // as fields so that `detach` can take exactly these off the socket.
  private readonly onConnect = (): void => {
    try {
      this.connected_();
    } catch (err) {
      this.fault(err);
    }
  };
  private readonly onData = (chunk: Buffer): void => {
    try {
      if (this.user !== undefined) this.user.onUpstreamData(chunk);
      else this.close(); // bytes nobody asked for: the connection can no longer be trusted
    } catch (err) {
      this.fault(err);
    }
  };
  private readonly onEnd = (): void => {
    try {
      if (this.user !== undefined) this.user.onUpstreamEnd();
      else this.close();
    } catch (err) {
      this.fault(err);
    }
  };
  private readonly onDrain = (): void => {
    try {
      this.user?.onUpstreamDrain();
    } catch (err) {
      this.fault(err);
    }
  };
  private readonly onTimeout = (): void => {
    try {
      this.timedOut();
    } catch (err) {
      this.fault(err);
    }
  };
  private readonly onError = (err: NodeJS.ErrnoException): void => this.failed(err.code ?? err.message);
  private readonly onClose = (): void => this.failed("ECONNRESET");

  /** `pool`: where a released connection is kept; undefined for a connection of its own (closed when released). */
  constructor(
    readonly socket: net.Socket,
    private readonly pool: ConnectionKeeper | undefined,
    user: UpstreamUser,
    connectMs: number,
  ) {
    this.user = user;
    socket.setTimeout(connectMs);
    this.listen(true);
  }

  /** Adds this object's listeners to its socket, or (`detach`) takes exactly these off again. */
  private listen(add: boolean): void {
    const socket = this.socket;
    const listeners: [string, SocketListener][] = [
      ["connect", this.onConnect],
      ["data", this.onData],
      ["end", this.onEnd],
      ["drain", this.onDrain],
      ["timeout", this.onTimeout],
      ["error", this.onError],
      ["close", this.onClose],
    ];
    for (const [event, listener] of listeners) {
      if (add) socket.on(event, listener);
      else socket.off(event, listener);
    }
  }

  private connected_(): void {
    if (this.state !== ConnState.Connecting) return;
    this.state = ConnState.Lent;
    this.socket.setTimeout(this.timeoutMs);
    this.user?.onUpstreamConnect(this);
  }

  private timedOut(): void {
    const user = this.user;
    if (this.state === ConnState.Connecting) {
      this.close();
      user?.onUpstreamError("ETIMEDOUT");
    } else if (user !== undefined) user.onUpstreamTimeout();
    else this.close();
  }

  /** The socket failed or closed: the user (if any) hears it once, the connection is gone. */
  private failed(code: string): void {
    const user = this.user;
    this.close();
    try {
      user?.onUpstreamError(code);
    } catch (err) {
      user?.onUpstreamFault(err);
    }
  }

  private fault(err: unknown): void {
    const user = this.user;
    this.user = undefined;
    // Detached in the very callback that threw: the hand-over failed, so the socket goes too.
    if (this.state === ConnState.Detached) this.socket.destroy();
    else this.close();
    user?.onUpstreamFault(err);
  }

  /** The member timeout while lent (0: none); applied once connected. */
  setActivityTimeout(ms: number): void {
    if (ms === this.timeoutMs) return;
    this.timeoutMs = ms;
    if (this.state === ConnState.Lent) this.socket.setTimeout(ms);
  }

  write(data: Buffer | string): boolean {
    return typeof data === "string" ? this.socket.write(data, "latin1") : this.socket.write(data);
  }

  /**
   * Gives the connection back between requests: kept idle for the next one when allowed. A
   * connection of its own (no pool) is closed instead: it is never lent to anyone else.
   */
  release(): void {
    if (this.state !== ConnState.Lent) return;
    if (this.pool === undefined) {
      this.close();
      return;
    }
    this.user = undefined;
    this.served++;
    if (this.socket.isPaused()) this.socket.resume();
    this.pool.keep(this);
  }

  /** Closes the connection (after an error, an aborted response, or when it cannot be reused). */
  close(): void {
    if (this.state === ConnState.Closed || this.state === ConnState.Detached) return;
    const wasIdle = this.state === ConnState.Idle;
    this.state = ConnState.Closed;
    this.user = undefined;
    if (wasIdle) this.pool?.forget(this);
    this.socket.destroy();
  }

  /**
   * Hands the connected socket over as a bare byte stream (a TCP relay, an upgraded connection):
   * this object's listeners and timeout come off and it touches the socket no more, so it never
   * returns to a pool. The caller must listen for `error` at once. Only a lent connection of its
   * own (no pool) can be detached.
   */
  detach(): net.Socket {
    if (this.state !== ConnState.Lent || this.pool !== undefined)
      throw new Error("only a lent connection of its own can be detached");
    // The user stays known until the callback that detached returns: a throw later in it is
    // still reported to the user (`fault`). No other event reaches this object any more.
    this.state = ConnState.Detached;
    const socket = this.socket;
    socket.setTimeout(0);
    this.listen(false);
    // Taking the `data` listener off leaves the stream flowing; paused, the new owner chooses how
    // it reads (the byte relay reads into its own reused buffers only from a socket not flowing).
    socket.pause();
    return socket;
  }

  /** When the connection was parked (ms, the pool's clock): the pool's sweep closes it after idleMs. */
  idleSince = 0;

  /**
   * Called by the pool when it parks the connection. The socket keeps its member timeout: a
   * second timer per request (idle, then active again) was measurable on the forwarding path.
   */
  park(now: number): void {
    this.state = ConnState.Idle;
    this.idleSince = now;
  }

  /** Called by the pool when it lends a parked connection again. */
  lend(user: UpstreamUser): void {
    this.state = ConnState.Lent;
    this.user = user;
  }
}

/**
 * A connection to `member` of its own, outside any pool: for a TCP relay or an upgrade, whose socket
 * is handed over (`detach`) once connected and must never serve another request. `allowHalfOpen`,
 * because a byte relay carries half-closes. `onUpstreamConnect` is called once it is established.
 */
export function connectMember(
  member: { readonly address: string; readonly port: number },
  user: UpstreamUser,
  connectMs: number,
  activityMs: number,
): UpstreamConnection {
  const socket = net.connect({ host: member.address, port: member.port, noDelay: true, allowHalfOpen: true });
  const conn = new UpstreamConnection(socket, undefined, user, connectMs);
  conn.setActivityTimeout(activityMs);
  return conn;
}
