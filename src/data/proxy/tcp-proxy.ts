import type * as net from "node:net";
import type { ListenerModel } from "../../core/model.js";
import { l4Client, type PlacedClient, placeClient } from "../affinity/placement-front.js";
import type { DataPathContext } from "../context.js";
import { guard, reportFault } from "../fault-guard.js";
import type { ListenerReport } from "../listener/listener-report.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { PoolRuntime } from "../upstream/pool-runtime.js";
import type { UpstreamConnection } from "../upstream/upstream-connection.js";
import { logAccess } from "./access-log.js";
import { MemberAttempt } from "./member-attempt.js";
import { type RelayOwner, relaySockets } from "./socket-relay.js";

/** Per-listener counters of the TCP data path. */
export class TcpListenerCounters {
  connections = 0;
  noMember = 0;
  connectFailures = 0;
  retries = 0;
  idleTimeouts = 0;
  proxyHeaderRejected = 0;
  bytesIn = 0;
  bytesOut = 0;

  /** The counters as the admin API reads them (every counter above is declared here). */
  report(): ListenerReport {
    return {
      unit: "connections",
      connections: this.connections,
      traffic: this.connections,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      events: {
        no_member: this.noMember,
        connect_failure: this.connectFailures,
        retry: this.retries,
        idle_timeout: this.idleTimeouts,
        proxy_header_rejected: this.proxyHeaderRejected,
      },
      requests: [],
    };
  }
}

/**
 * Relays one accepted client connection to a member of `pool`: place by source IP (binding table
 * or consistent hash), attempt the member (`member-attempt.ts`: connect timeout, on a failure report
 * it and try one other eligible member), then relay both ways (`socket-relay.ts`). Never throws:
 * every failure ends in closing the client and a counter.
 */
export function relayTcp(
  client: net.Socket,
  clientIp: string,
  listener: ListenerModel,
  pool: PoolRuntime,
  counters: TcpListenerCounters,
  ctx: DataPathContext,
): void {
  const started = ctx.clock.now();
  const relayPlaced = (placement: PlacedClient): void => {
    if (placement.member === undefined) {
      counters.noMember++;
      if (listener.accessLog)
        logTcpAccess(client, clientIp, listener, pool, ctx, placement, undefined, started);
      client.destroy();
      return;
    }
    new TcpConnection(client, clientIp, listener, pool, counters, ctx, placement, started).start();
  };
  const placed = placeClient(pool, l4Client(clientIp));
  if (!(placed instanceof Promise)) {
    relayPlaced(placed);
    return;
  }
  // A local miss in a shared pool: the store is asked (at most its 50 ms budget) before the
  // connect. The client may leave meanwhile: its error is absorbed, and nothing is held or
  // connected for a socket that is already gone.
  const absorb = (): void => {};
  client.on("error", absorb);
  placed.then(
    guard(
      ctx,
      "tcp",
      () => client.destroy(),
      (placement: PlacedClient) => {
        client.off("error", absorb);
        if (client.destroyed) return;
        relayPlaced(placement);
      },
    ),
  );
}

/**
 * One TCP client connection from its first attempt to its close: the attempts are
 * {@link MemberAttempt}'s, the relay `socket-relay.ts`'s.
 */
class TcpConnection extends MemberAttempt implements RelayOwner {
  readonly faultSite = "tcp";

  constructor(
    private readonly client: net.Socket,
    private readonly clientIp: string,
    listener: ListenerModel,
    pool: PoolRuntime,
    private readonly counters: TcpListenerCounters,
    ctx: DataPathContext,
    placement: PlacedClient,
    private readonly started: number,
  ) {
    super(listener, ctx, counters, pool, placement, client);
  }

  start(): void {
    const { client, sticky } = this;
    // An open connection counts as traffic, so its binding cannot lapse while it lasts.
    sticky.hold();
    client.on("error", noop);
    client.once(
      "close",
      guard(this.ctx, "tcp", noop, () => this.clientClosed()),
    );
    this.attempt(this.target, false);
  }

  private clientClosed(): void {
    this.sticky.release();
    if (this.listener.accessLog)
      logTcpAccess(
        this.client,
        this.clientIp,
        this.listener,
        this.pool,
        this.ctx,
        this.sticky,
        this.target,
        this.started,
      );
    if (this.connected) return;
    // Gone while connecting: the attempt ends with it.
    this.over = true;
    this.releaseClaim();
    this.conn?.close();
    this.conn = undefined;
  }

  protected memberReady(conn: UpstreamConnection): void {
    const upstream = conn.detach();
    this.conn = undefined;
    if (this.client.destroyed) {
      this.over = true;
      this.releaseClaim();
      upstream.on("error", noop);
      upstream.destroy();
      return;
    }
    relaySockets(this.client, upstream, this.listener.timeouts.idleMs, this.ctx, this.listener.name, this);
  }

  relayIdle(): void {
    this.counters.idleTimeouts++;
  }

  memberClosed(upstream: net.Socket): void {
    const { counters, target } = this;
    counters.bytesIn += upstream.bytesWritten;
    counters.bytesOut += upstream.bytesRead;
    target.bytesIn += upstream.bytesWritten;
    target.bytesOut += upstream.bytesRead;
    this.over = true;
    this.releaseClaim();
  }

  onUpstreamError(code: string): void {
    if (this.over) return;
    // One more try on another eligible member, for TCP as for HTTP; none: the client is closed.
    if (!this.retryAfterFailure(code, !this.client.destroyed)) {
      this.over = true;
      this.client.destroy();
    }
  }

  /** A bug while connecting: this connection ends, the process goes on. */
  onUpstreamFault(err: unknown): void {
    reportFault(this.ctx, "tcp", err, { listener: this.listener.name, member: this.target.endpoint });
    this.over = true;
    this.conn = undefined;
    this.releaseClaim();
    this.client.destroy();
  }

  // Before `memberReady` detaches the socket nothing is read or written on it, and no activity
  // timeout is set: these cannot happen.
  onUpstreamData(): void {}
  onUpstreamEnd(): void {}
  onUpstreamTimeout(): void {}
  onUpstreamDrain(): void {}
}

function logTcpAccess(
  client: net.Socket,
  clientIp: string,
  listener: ListenerModel,
  pool: PoolRuntime,
  ctx: DataPathContext,
  placement: PlacedClient,
  served: MemberRuntime | undefined,
  started: number,
): void {
  logAccess(ctx.log, {
    listener: listener.name,
    protocol: "TCP",
    client: clientIp,
    pool: pool.name,
    member: served?.endpoint ?? null,
    memberName: served?.name ?? null,
    affinity: placement.result ?? "none",
    durationMs: ctx.clock.now() - started,
    bytesIn: client.bytesRead,
    bytesOut: client.bytesWritten,
  });
}

function noop(): void {}
