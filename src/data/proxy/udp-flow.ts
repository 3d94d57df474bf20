/**
 * One UDP flow (docs/udp.md): a client address and port relayed to one member over an upstream
 * socket of its own, connected to the member so that replies come back on it. The flow table
 * (`udp-flows.ts`) opens, orders, expires and closes flows; a flow only relays and reports.
 */
import * as dgram from "node:dgram";
import { isIPv6 } from "node:net";
import type { PlacedClient } from "../affinity/placement-front.js";
import type { DataPathContext } from "../context.js";
import { guard, reportFault } from "../fault-guard.js";
import type { Closable, MemberRuntime } from "../upstream/member-runtime.js";
import type { UdpListenerCounters } from "./udp-counters.js";

/** Why a flow closed; picks the counter. */
export type FlowCloseReason =
  | "expired"
  | "evicted"
  | "evicted-at-limit"
  | "refused"
  | "unhealthy"
  | "error"
  | "fault"
  | "closed";

/** What a flow needs of its table (`FlowTable`, `udp-flows.ts`). */
export interface FlowOwner {
  readonly ctx: DataPathContext;
  readonly counters: UdpListenerCounters;
  readonly listenerName: string;
  /** Traffic on the flow: restarts its idle time. */
  touch(flow: UdpFlow, now: number): void;
  /** Sends a member's reply to the client from the listener's socket. */
  reply(msg: Buffer, port: number, address: string): void;
  /** Closes the flow (idempotent) and counts why. */
  close(flow: UdpFlow, reason: FlowCloseReason): void;
}

/** Datagrams kept for a flow while its upstream socket connects; more are dropped, as a full buffer would. */
export const MAX_PENDING = 64;

/** The flow key: client address and port. */
export function flowKey(address: string, port: number): string {
  return address + " " + port;
}

/**
 * One client address and port, relayed to one member. Handlers are bound once per flow so that
 * relaying a datagram allocates nothing of ours.
 */
export class UdpFlow implements Closable {
  /** Last datagram in either direction (ms, the context's clock). */
  lastSeen: number;
  closed = false;
  /** Neighbours in the table's deadline order (null at the ends or once unlinked). */
  prev: UdpFlow | null = null;
  next: UdpFlow | null = null;
  /** Gives back the member's active count and drain registration (`MemberRuntime.claim`). */
  readonly unclaim: () => void;
  /** Datagrams waiting for the upstream socket to connect; undefined once connected. */
  private pending: Buffer[] | undefined = [];
  private replied = false;
  readonly upstream: dgram.Socket;

  constructor(
    readonly key: string,
    readonly clientAddress: string,
    readonly clientPort: number,
    readonly clientIp: string,
    readonly member: MemberRuntime,
    /** The flow's placement: it holds the client's binding (if its pool keeps any) while it lives. */
    readonly placement: PlacedClient,
    private readonly table: FlowOwner,
    now: number,
  ) {
    this.lastSeen = now;
    this.upstream = dgram.createSocket(isIPv6(member.address) ? "udp6" : "udp4");
    this.unclaim = member.claim(this);
    // A throw in a callback is a bug: it ends this flow only (docs/architecture.md, fault guard).
    // Replies are the hot path: their `try` is inline; connect and error are rare enough to wrap.
    const end = (): void => this.ended();
    this.upstream.on("message", this.onReply);
    this.upstream.on("error", guard(table.ctx, "udp", end, this.onError));
    this.upstream.connect(member.port, member.address, guard(table.ctx, "udp", end, this.onConnect));
  }

  /** A callback threw (reported by the fault guard): close this flow, counted for its listener. */
  private ended(): void {
    this.table.counters.internalErrors++;
    try {
      this.table.close(this, "fault");
    } catch (err) {
      // Closing failed too: mark it closed so no further callback relays anything.
      this.closed = true;
      throw err;
    }
  }

  /** Sends a client datagram to the member (queued until the upstream socket is connected). */
  send(msg: Buffer): void {
    const pending = this.pending;
    this.member.bytesIn += msg.length;
    if (pending === undefined) {
      this.upstream.send(msg);
    } else if (pending.length < MAX_PENDING) {
      pending.push(msg);
    } else {
      this.table.counters.drops++;
    }
  }

  /** Closable: a drain that ends closes the flow. */
  destroy(): void {
    this.table.close(this, "closed");
  }

  // With a callback, `connect` reports its own failure here rather than as an 'error' event.
  private readonly onConnect = (err?: Error): void => {
    if (err !== undefined && err !== null) {
      this.onError(err);
      return;
    }
    const pending = this.pending;
    this.pending = undefined;
    if (this.closed || pending === undefined) return;
    for (const msg of pending) this.upstream.send(msg);
  };

  private readonly onReply = (msg: Buffer): void => {
    if (this.closed) return;
    try {
      if (!this.replied) {
        // A reply proves the member is there: it resets the passive failure count.
        this.replied = true;
        this.table.ctx.outcomes.connectSucceeded(this.member);
      }
      this.table.touch(this, this.table.ctx.clock.now());
      this.member.bytesOut += msg.length;
      this.table.reply(msg, this.clientPort, this.clientAddress);
    } catch (err) {
      reportFault(this.table.ctx, "udp", err, {
        listener: this.table.listenerName,
        member: this.member.endpoint,
      });
      try {
        this.ended();
      } catch (again) {
        reportFault(this.table.ctx, "udp", again);
      }
    }
  };

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    if (this.closed) return;
    // Linux reports an ICMP "port unreachable" on a connected UDP socket as ECONNREFUSED on the
    // next receive (or send); it is the UDP form of a refused connect (passive health, docs/health.md).
    if (err.code === "ECONNREFUSED") {
      this.table.ctx.outcomes.connectFailed(this.member, "ECONNREFUSED (port unreachable)");
      this.table.close(this, "refused");
      return;
    }
    this.table.ctx.log.debug(
      { listener: this.table.listenerName, member: this.member.endpoint, err: err.code ?? err.message },
      "UDP flow error",
    );
    this.table.close(this, "error");
  };
}
