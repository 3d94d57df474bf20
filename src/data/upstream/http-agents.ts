import type { Socket } from "node:net";
import { buildConnector, Pool } from "undici";
import type { MemberId } from "../../core/member.js";

/**
 * Free keep-alive connections are closed after this idle time: below the 5 s `keepAliveTimeout` of
 * Node servers and most defaults, so that we close an idle connection before the member does and
 * rarely send a request on a connection the member is closing.
 */
export const DEFAULT_UPSTREAM_IDLE_MS = 4000;

/** Set on a socket error when the connection had carried an earlier response (a pooled reuse). */
export const REUSED_SOCKET = Symbol("stickylb.reusedSocket");

/** An upstream error, as undici reports it, possibly marked by {@link REUSED_SOCKET}. */
export type UpstreamError = Error & {
  code?: string;
  [REUSED_SOCKET]?: boolean;
  /** undici's `SocketError` carries what the socket had read and written. */
  socket?: { bytesRead?: number } | null;
};

// Runs before undici's own listener: a reset on a connection that already carried a response is
// the stale-pool case (the member closed it while idle), not the member's failure.
function markReused(this: Socket, err: UpstreamError): void {
  err[REUSED_SOCKET] = this.bytesRead > 0;
}

/**
 * Pooled keep-alive connections towards members: one undici `Pool` per member (and connect
 * timeout), keyed by {@link MemberId} so that a reload keeps the warm connections of members that
 * stay (STYLE point 3). undici replaces `http.Agent` + `http.request` on the forwarding path: its
 * `dispatch` sends a request with a few allocations and no `ClientRequest`/`IncomingMessage` pair,
 * which a CPU profile showed to be the largest share of the forwarding cost (docs/performance.md).
 */
export class HttpAgents {
  // By member, then by connect timeout (listeners may differ): two lookups, no key built per request.
  private readonly pools = new Map<MemberId, Map<number, Pool>>();

  constructor(private readonly idleMs = DEFAULT_UPSTREAM_IDLE_MS) {}

  poolFor(
    member: { readonly id: MemberId; readonly address: string; readonly port: number },
    connectMs: number,
  ): Pool {
    let byTimeout = this.pools.get(member.id);
    if (byTimeout === undefined) {
      byTimeout = new Map();
      this.pools.set(member.id, byTimeout);
    }
    let pool = byTimeout.get(connectMs);
    if (pool === undefined) {
      pool = this.create(member, connectMs);
      byTimeout.set(connectMs, pool);
    }
    return pool;
  }

  private create(member: { readonly address: string; readonly port: number }, connectMs: number): Pool {
    const connector = buildConnector({ timeout: connectMs, noDelay: true });
    const pool = new Pool(`http://${hostOf(member.address)}:${member.port}`, {
      connect: (options, callback) =>
        connector(options, (err, socket) => {
          if (err !== null) {
            callback(err, null);
            return;
          }
          socket.prependListener("error", markReused);
          callback(null, socket);
        }),
      pipelining: 1,
      keepAliveTimeout: this.idleMs,
      keepAliveMaxTimeout: this.idleMs,
      // A member's body longer or shorter than it announced is an upstream error, as with node:http.
      strictContentLength: true,
    });
    // Errors reach each request's handler; the pool's own event only needs a listener.
    pool.on("connectionError", noop);
    return pool;
  }

  /**
   * Forgets the pools of members not in `keep` (called after a reload). `close()` lets requests
   * in flight finish (a removed member drains, SPEC 6.8), then closes the connections.
   */
  retain(keep: ReadonlySet<MemberId>): void {
    for (const [id, byTimeout] of this.pools) {
      if (keep.has(id)) continue;
      for (const pool of byTimeout.values()) pool.close().catch(noop);
      this.pools.delete(id);
    }
  }

  /** Members with pools. */
  get size(): number {
    return this.pools.size;
  }

  destroyAll(): void {
    for (const byTimeout of this.pools.values())
      for (const pool of byTimeout.values()) pool.destroy().catch(noop);
    this.pools.clear();
  }
}

function noop(): void {}

/** An IPv6 literal goes in brackets in an origin. */
function hostOf(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}

/** One set of pools for the whole process: every HTTP listener forwards through it. */
export const sharedHttpAgents = new HttpAgents();
