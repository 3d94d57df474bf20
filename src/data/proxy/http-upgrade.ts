/**
 * An HTTP upgrade (WebSocket) is an exchange like any request (`http-forward.ts`): routed, placed
 * and sticky, its head built by the same request side, sent through the same attempts and retry
 * rule (`member-attempt.ts`), the member's answer read by the same response side — so a member
 * that refuses the upgrade has its response relayed like any other, and the client connection
 * closes after it. What differs is here: each attempt connects a socket of its own, which never
 * returns to a keep-alive pool, and a `101` switches both sockets to the byte relay
 * (`socket-relay.ts`) until either side closes or both stay silent for `timeouts.idle`. The member
 * keeps its claim while the relay lasts (`LEAST_CONNECTIONS` counts the WebSocket as in flight),
 * and one access-log line is written when the upgrade ends.
 *
 * A `101` that teaches a binding the shared store must acknowledge (an APP_COOKIE set on the
 * answer) waits for the store like any response head (`http-exchange-response.ts`, at most the
 * store's budget, docs/shared-state.md): the client's next connection, on any replica, finds it.
 */
import type { Socket } from "node:net";
import { guard } from "../fault-guard.js";
import type { ResponseHead } from "../http1/head-parser.js";
import type { MemberConnectionPools } from "../upstream/member-connections.js";
import { logAccess, pathForLog } from "./access-log.js";
import type { ClientSide, ParsedRequest } from "./http-exchange-request.js";
import { Exchange, type HttpEnv, type RouteOutcome } from "./http-forward.js";
import { responseHeadersForClient } from "./http-headers.js";
import { rawHead } from "./http-local.js";
import { type RelayOwner, relaySockets } from "./socket-relay.js";

export class UpgradeExchange extends Exchange implements RelayOwner {
  /** The 101 is waiting for the shared store's acknowledgement (see `holdSwitch`). */
  private switching = false;
  /** The member socket, once detached for the relay. */
  private upstream: Socket | undefined;
  /** The access-log line is written (once per upgrade, whichever way it ends). */
  private logged = false;

  constructor(
    client: ClientSide,
    request: ParsedRequest,
    route: RouteOutcome & { ok: true },
    requestHead: string,
    env: HttpEnv,
  ) {
    super(client, request, route, requestHead, env);
    // Whatever the member answers instead of a 101 ends the client connection after it.
    this.closeClient = true;
  }

  /** Never from a pool: an upgraded connection can serve no other request. */
  protected override get pools(): MemberConnectionPools | undefined {
    return undefined;
  }

  override get faultSite(): "upgrade" {
    return "upgrade";
  }

  /**
   * The member accepted: the 101 (with the inserted cookie when one is due) and then the relay —
   * after the shared store acknowledged a binding the answer taught, when it taught one.
   */
  protected override switchProtocols(head: ResponseHead, buf: Buffer, rest: number): void {
    const { env, target } = this;
    const out = responseHeadersForClient(head.raw, true);
    out.push(...this.sticky.answered(target, head.raw));
    env.counters.countResponse(this.pool.name, target.endpoint, 101);
    // The member has answered: a failure from now on is not retried on another member.
    this.responded = true;
    this.status = 101;
    const storeAck = this.sticky.storeAck;
    if (storeAck === undefined) this.relay(head, buf, rest, out, undefined);
    else this.holdSwitch(storeAck, head, buf, rest, out);
  }

  /**
   * The 101 waits for the store's acknowledgement (settled within its budget, never rejected). The
   * member socket is paused meanwhile: what Node still reads stays in its buffer (or, from a read
   * already under way, in `heldBody`) and follows the 101 in order. The client's bytes wait in its
   * connection's pending buffer, bounded there. If either side fails or the client leaves
   * meanwhile, `settle` ends the upgrade (claim released, member connection closed, access log).
   */
  private holdSwitch(
    storeAck: Promise<void>,
    head: ResponseHead,
    buf: Buffer,
    rest: number,
    out: string[],
  ): void {
    this.switching = true;
    this.heldBody = [];
    this.conn?.socket.pause();
    const acknowledged = (): void => {
      const held = this.heldBody;
      this.heldBody = undefined;
      if (this.over) return;
      try {
        // Destroyed, its close not yet delivered: nothing may be written to it.
        if (this.client.socket.destroyed) {
          this.clientGone();
          return;
        }
        this.relay(head, buf, rest, out, held);
      } catch (err) {
        // A bug in the switch ends this upgrade only (counted as `upgrade`), both sockets with it.
        this.conn?.close();
        this.conn = undefined;
        this.upstream?.destroy();
        this.onUpstreamFault(err);
      }
    };
    storeAck.then(acknowledged, acknowledged);
  }

  /** Both sockets leave the HTTP machinery for the byte relay, the 101 and the member's bytes first. */
  private relay(
    head: ResponseHead,
    buf: Buffer,
    rest: number,
    out: string[],
    held: readonly Buffer[] | undefined,
  ): void {
    const { env, client } = this;
    env.counters.upgrades++;
    // From here the sockets are the relay's; the claim stays until the member side closes.
    this.over = true;
    const upstream = this.conn!.detach();
    this.conn = undefined;
    this.upstream = upstream;
    const early = client.upgraded();
    const socket = client.socket;
    socket.once(
      "close",
      guard(env.ctx, "upgrade", noop, () => this.logUpgrade(101)),
    );
    client.write(rawHead(101, head.reason, out));
    if (rest < buf.length) socket.write(buf.subarray(rest));
    if (held !== undefined) for (const chunk of held) socket.write(chunk);
    // Bytes the client sent after its request waited for the 101; they go first.
    if (early !== undefined) upstream.write(early);
    relaySockets(socket, upstream, this.listener.timeouts.idleMs, env.ctx, this.listener.name, this);
    // Only now: a bug above still ends a held upgrade through `settle`, with its access-log line.
    this.switching = false;
  }

  /**
   * Over for its member before the switch: while the 101 waited for the store, that is the end of
   * the upgrade (the client left, the member failed, a bug) — the client never got the 101, so
   * its access-log line says 0, as for a client that left before any answer.
   */
  protected override settle(): void {
    super.settle();
    if (!this.switching) return;
    this.switching = false;
    this.logUpgrade(0);
  }

  /**
   * The member refused the upgrade and its answer is complete: as after an upgraded connection,
   * the client connection closes once the answer is out, without waiting for the client's FIN.
   */
  protected override responseComplete(): void {
    super.responseComplete();
    this.client.socket.destroySoon();
  }

  relayIdle(): void {}

  memberClosed(_upstream: Socket): void {
    this.releaseClaim();
  }

  /** The client left before any answer: the upgrade still has its access-log line. */
  override clientGone(): void {
    const answered = this.over || this.responded;
    super.clientGone();
    if (!answered) this.logUpgrade(0);
  }

  private logUpgrade(status: number): void {
    const { listener, env } = this;
    if (this.logged) return;
    this.logged = true;
    if (!listener.accessLog) return;
    const socket = this.client.socket;
    logAccess(env.ctx.log, {
      listener: listener.name,
      protocol: env.https ? "HTTPS" : "HTTP",
      client: this.client.clientIp,
      pool: this.pool.name,
      member: this.target.endpoint,
      memberName: this.target.name ?? null,
      affinity: this.sticky.result ?? "none",
      status,
      method: this.head.method,
      path: pathForLog(this.head.target),
      durationMs: env.ctx.clock.now() - this.started,
      bytesIn: socket.bytesRead,
      bytesOut: socket.bytesWritten,
    });
  }
}

function noop(): void {}
