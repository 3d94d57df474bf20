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

  /** The member accepted: the 101 (with the inserted cookie when one is due) and then the relay. */
  protected override switchProtocols(head: ResponseHead, buf: Buffer, rest: number): void {
    const { env, target, client } = this;
    const out = responseHeadersForClient(head.raw, true);
    out.push(...this.sticky.answered(target, head.raw));
    env.counters.countResponse(this.pool.name, target.endpoint, 101);
    env.counters.upgrades++;
    this.responded = true;
    this.status = 101;
    // From here the sockets are the relay's; the claim stays until the member side closes.
    this.over = true;
    const upstream = this.conn!.detach();
    this.conn = undefined;
    const early = client.upgraded();
    const socket = client.socket;
    socket.once(
      "close",
      guard(env.ctx, "upgrade", noop, () => this.logUpgrade(101)),
    );
    client.write(rawHead(101, head.reason, out));
    if (rest < buf.length) socket.write(buf.subarray(rest));
    // Bytes the client sent after its request waited for the 101; they go first.
    if (early !== undefined) upstream.write(early);
    relaySockets(socket, upstream, this.listener.timeouts.idleMs, env.ctx, this.listener.name, this);
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
