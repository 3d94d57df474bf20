import * as net from "node:net";
import type { ListenerModel } from "../../core/model.js";
import { l4Client, type PlacedClient, placeClient } from "../affinity/placement-front.js";
import type { DataPathContext } from "../context.js";
import { guard, reportFault } from "../fault-guard.js";
import type { ListenerReport } from "../listener/listener-report.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { PoolRuntime } from "../upstream/pool-runtime.js";
import { logAccess } from "./access-log.js";
import { relayBothWays } from "./byte-relay.js";
import { retryElsewhere } from "./retry.js";

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
 * or consistent hash), connect with a timeout, on a connect failure report it and try one other
 * eligible member, then relay both ways with back-pressure and half-close (`byte-relay.ts`). Never throws: every
 * failure ends in closing the client and a counter.
 */
export function relayTcp(
  client: net.Socket,
  clientIp: string,
  listener: ListenerModel,
  pool: PoolRuntime,
  counters: TcpListenerCounters,
  ctx: DataPathContext,
): void {
  const placed = placeClient(pool, l4Client(clientIp));
  if (!(placed instanceof Promise)) {
    relayPlaced(client, clientIp, listener, pool, counters, ctx, placed);
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
        relayPlaced(client, clientIp, listener, pool, counters, ctx, placement);
      },
    ),
  );
}

/** Relays a client connection that the placement front has placed (see {@link relayTcp}). */
function relayPlaced(
  client: net.Socket,
  clientIp: string,
  listener: ListenerModel,
  pool: PoolRuntime,
  counters: TcpListenerCounters,
  ctx: DataPathContext,
  placement: PlacedClient,
): void {
  const member = placement.member;
  let served = member;
  if (listener.accessLog) {
    const started = ctx.clock.now();
    client.once("close", () =>
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
      }),
    );
  }
  if (member === undefined) {
    counters.noMember++;
    client.destroy();
    return;
  }
  // An open connection counts as traffic, so its binding cannot lapse while it lasts.
  placement.hold();
  client.once("close", () => placement.release());
  client.on("error", () => {});

  // Every socket callback below is guarded: a bug ends this connection (both sides), counted.
  let upstreamNow: net.Socket | undefined;
  const endBoth = (): void => {
    client.destroy();
    upstreamNow?.destroy();
  };
  const guarded = <A extends unknown[]>(fn: (...args: A) => void) => guard(ctx, "tcp", endBoth, fn);

  const attempt = (target: MemberRuntime, retried: boolean): void => {
    served = target;
    const upstream = net.connect({ host: target.address, port: target.port, allowHalfOpen: true });
    upstreamNow = upstream;
    upstream.setNoDelay(true);
    const finish = target.claim(client);
    let connected = false;
    const connectTimer = setTimeout(() => {
      upstream.destroy(new Error("connect timeout"));
    }, listener.timeouts.connectMs);

    upstream.once(
      "connect",
      guarded(() => {
        connected = true;
        clearTimeout(connectTimer);
        ctx.outcomes.connectSucceeded(target);
        if (client.destroyed) {
          upstream.destroy();
          return;
        }
        client.setTimeout(listener.timeouts.idleMs);
        client.on(
          "timeout",
          guarded(() => {
            counters.idleTimeouts++;
            client.destroy();
            upstream.destroy();
          }),
        );
        relayBothWays(client, upstream, (err) => {
          reportFault(ctx, "tcp", err, { listener: listener.name });
          endBoth();
        });
      }),
    );

    upstream.on(
      "error",
      guarded((err: NodeJS.ErrnoException) => {
        clearTimeout(connectTimer);
        if (connected) return;
        counters.connectFailures++;
        ctx.outcomes.connectFailed(target, err.code ?? err.message);
        finish();
        if (client.destroyed) return;
        // One more try on another eligible member, for TCP as for HTTP.
        const next = retryElsewhere(pool, placement, target, !retried, counters);
        if (next === undefined) {
          ctx.log.debug(
            { listener: listener.name, member: target.endpoint, err: err.code, code: "SLB_ERR_DATA_CONNECT" },
            "connect failed",
          );
          client.destroy();
          return;
        }
        attempt(next, true);
      }),
    );

    // A side that closed before both of its directions ended (reset, timeout, drain) takes the
    // other side down; a clean close leaves the other side to flush and close on its own.
    upstream.once(
      "close",
      guarded(() => {
        clearTimeout(connectTimer);
        if (connected) {
          counters.bytesIn += upstream.bytesWritten;
          counters.bytesOut += upstream.bytesRead;
          target.bytesIn += upstream.bytesWritten;
          target.bytesOut += upstream.bytesRead;
          if (!(upstream.readableEnded && upstream.writableFinished)) client.destroy();
        }
        finish();
      }),
    );
    client.once(
      "close",
      guarded(() => {
        if (!connected || !(client.readableEnded && client.writableFinished)) upstream.destroy();
      }),
    );
  };
  attempt(member, false);
}
