/**
 * Keep-alive connections towards members for the HTTP forwarding path: one {@link MemberPool} of
 * plain TCP sockets per member, keyed by {@link MemberId} so that a reload keeps the warm
 * connections of members that stay (docs/architecture.md). The forwarder speaks HTTP/1.1 on these sockets
 * itself (`data/http1`); a pool only hands out connected sockets (each an `UpstreamConnection`,
 * `upstream-connection.ts`), takes them back between requests and closes the ones that idle too
 * long or that the member closes.
 *
 * Why not `http.Agent` or undici: a CPU profile showed their request objects, promises and
 * listeners per request as a large share of the forwarding cost (docs/performance.md).
 */
import * as net from "node:net";
import { type Clock, systemClock } from "../../core/clock.js";
import type { MemberId } from "../../core/member.js";
import { type ConnectionKeeper, UpstreamConnection, type UpstreamUser } from "./upstream-connection.js";

/**
 * Free keep-alive connections are closed after this idle time: below the 5 s `keepAliveTimeout` of
 * Node servers and most defaults, so that we close an idle connection before the member does and
 * rarely send a request on a connection the member is closing.
 */
export const DEFAULT_UPSTREAM_IDLE_MS = 4000;
/** Idle connections kept per member; the rest are closed when released. */
export const MAX_IDLE_PER_MEMBER = 256;

/** The connections towards one member. */
export class MemberPool implements ConnectionKeeper {
  private readonly idle: UpstreamConnection[] = [];
  private closing = false;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly sweepEvery: number;

  constructor(
    private readonly address: string,
    private readonly port: number,
    private readonly idleMs: number,
    private readonly clock: Clock = systemClock,
  ) {
    this.sweepEvery = Math.max(25, Math.floor(idleMs / 4));
  }

  /**
   * Lends a connection to `user`: the most recently used idle one (warmest, least likely closed
   * by the member), else a new one. `onUpstreamConnect` is called either way, synchronously for
   * an idle connection. `fresh` skips the idle ones (the resend after a stale connection).
   */
  acquire(user: UpstreamUser, connectMs: number, activityMs: number, fresh = false): UpstreamConnection {
    const reused = fresh ? undefined : this.idle.pop();
    if (reused !== undefined) {
      reused.lend(user);
      reused.setActivityTimeout(activityMs);
      user.onUpstreamConnect(reused);
      return reused;
    }
    const socket = net.connect({ host: this.address, port: this.port, noDelay: true });
    const conn = new UpstreamConnection(socket, this, user, connectMs);
    conn.setActivityTimeout(activityMs);
    return conn;
  }

  /** @internal a released connection. */
  keep(conn: UpstreamConnection): void {
    if (this.closing || this.idle.length >= MAX_IDLE_PER_MEMBER) {
      conn.close();
      return;
    }
    conn.park(this.clock.now());
    this.idle.push(conn);
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(sweepPool, this.sweepEvery, this);
      this.sweeper.unref();
    }
  }

  /**
   * Closes the connections that would pass idleMs before the next sweep, so none lives longer
   * than idleMs (the oldest are at the bottom of the stack).
   */
  sweep(now: number): void {
    const limit = this.idleMs - this.sweepEvery;
    let stale = 0;
    while (stale < this.idle.length && now - this.idle[stale]!.idleSince >= limit) stale++;
    if (stale > 0) for (const conn of this.idle.splice(0, stale)) conn.close();
    if (this.idle.length === 0) this.stopSweeping();
  }

  private stopSweeping(): void {
    if (this.sweeper === undefined) return;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** The pool's clock (the sweep timer reads it). */
  now(): number {
    return this.clock.now();
  }

  /** @internal an idle connection that closed. */
  forget(conn: UpstreamConnection): void {
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
  }

  get idleCount(): number {
    return this.idle.length;
  }

  /** Closes idle connections now and lent ones when they are released (a removed member drains). */
  close(): void {
    this.closing = true;
    for (const conn of this.idle.splice(0)) conn.close();
    this.stopSweeping();
  }
}

function sweepPool(pool: MemberPool): void {
  pool.sweep(pool.now());
}

/** All member pools of the process, kept across reloads by member identity. */
export class MemberConnectionPools {
  private readonly pools = new Map<MemberId, MemberPool>();

  constructor(
    private readonly idleMs = DEFAULT_UPSTREAM_IDLE_MS,
    private readonly clock: Clock = systemClock,
  ) {}

  poolFor(member: { readonly id: MemberId; readonly address: string; readonly port: number }): MemberPool {
    let pool = this.pools.get(member.id);
    if (pool === undefined) {
      pool = new MemberPool(member.address, member.port, this.idleMs, this.clock);
      this.pools.set(member.id, pool);
    }
    return pool;
  }

  /**
   * Forgets the pools of members not in `keep` (called after a reload). Requests in flight finish
   * on their connections (a removed member drains, docs/reference/behaviour.md#reload-and-drain); no connection returns to idle.
   */
  retain(keep: ReadonlySet<MemberId>): void {
    for (const [id, pool] of this.pools) {
      if (keep.has(id)) continue;
      pool.close();
      this.pools.delete(id);
    }
  }

  destroyAll(): void {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }
}
