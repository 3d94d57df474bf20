/**
 * The relay of a client socket and a connected member socket, for as long as both last: every TCP
 * connection (`tcp-proxy.ts`) and every upgraded HTTP connection (`http-upgrade.ts`) ends here once
 * its member is connected (and, for an upgrade, has answered `101`). Bytes go both ways through
 * `byte-relay.ts` with back-pressure and half-close; no byte either way for `idleMs` cuts both
 * sides; a side that closed before both of its directions ended (reset, timeout, drain) takes the
 * other side down, while a clean close leaves the other side to flush and close on its own. Every
 * callback is guarded: a bug ends this one connection (both sides), counted under the owner's
 * fault site.
 */
import type { Socket } from "node:net";
import { type FaultSink, type FaultSite, guard, reportFault } from "../fault-guard.js";
import { relayBothWays } from "./byte-relay.js";

/** What the relay tells the path that handed it the sockets. */
export interface RelayOwner {
  /** Where a bug in the relay is counted (`stickylb_internal_errors_total{where}`). */
  readonly faultSite: FaultSite;
  /** No byte either way for the idle time: both sides are being cut. */
  relayIdle(): void;
  /** The member socket closed (its byte counts are final). */
  memberClosed(upstream: Socket): void;
}

export function relaySockets(
  client: Socket,
  upstream: Socket,
  idleMs: number,
  sink: FaultSink,
  listenerName: string,
  owner: RelayOwner,
): void {
  const site = owner.faultSite;
  const endBoth = (): void => {
    client.destroy();
    upstream.destroy();
  };
  const guarded = <A extends unknown[]>(fn: (...args: A) => void) => guard(sink, site, endBoth, fn);
  // Errors end in `close`, handled below; a socket without an `error` listener would crash the process.
  upstream.on("error", noop);
  client.on("error", noop);
  client.setTimeout(idleMs);
  client.on(
    "timeout",
    guarded(() => {
      owner.relayIdle();
      endBoth();
    }),
  );
  upstream.once(
    "close",
    guarded(() => {
      if (!(upstream.readableEnded && upstream.writableFinished)) client.destroy();
      owner.memberClosed(upstream);
    }),
  );
  client.once(
    "close",
    guarded(() => {
      if (!(client.readableEnded && client.writableFinished)) upstream.destroy();
    }),
  );
  relayBothWays(client, upstream, (err) => {
    reportFault(sink, site, err, { listener: listenerName });
    endBoth();
  });
}

function noop(): void {}
