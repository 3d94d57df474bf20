/**
 * The UDP flow table (SPEC 6.6a): one flow per client address and port, each with a dedicated
 * upstream socket connected to its member, so replies come back on that socket and are relayed to
 * the client from the listener's own address.
 *
 * Expiry and the bound use one deadline-ordered index, as the binding tables do (HAProxy stick
 * tables, STYLE point 8): every flow of a listener has the same idle timeout, so ordering flows by
 * their last datagram *is* ordering them by deadline. A JavaScript `Map` iterates in insertion
 * order and a touch is `delete` + `set`, so the front of the map is both the oldest idle flow (the
 * one to evict at `maxFlows`) and the earliest deadline (the one to expire). One sweep per listener
 * pops expired flows from the front: O(expired), no timer per flow.
 */
import * as dgram from "node:dgram";
import { isIPv6 } from "node:net";
import { clientIpKey } from "../../core/member.js";
import type { BindingStore } from "../affinity/binding-table.js";
import type { PlacedClient } from "../affinity/placement-front.js";
import type { DataPathContext } from "../context.js";
import { reportFault } from "../fault-guard.js";
import type { Closable, MemberRuntime } from "../upstream/member-runtime.js";
import type { PoolRuntime } from "../upstream/pool-runtime.js";

/** Per-listener counters of the UDP data path. */
export class UdpListenerCounters {
  datagramsIn = 0;
  datagramsOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  flowsOpened = 0;
  /** Flows closed after `timeouts.idle` without datagrams. */
  flowsExpired = 0;
  /** Flows closed to respect `maxFlows` (the oldest idle one goes). */
  flowsEvicted = 0;
  /** Flows closed because the member answered "port unreachable" (a passive failure). */
  flowsRefused = 0;
  /** Flows moved to another member because theirs went unhealthy. */
  flowsRedispatched = 0;
  /** Datagrams dropped because no member was eligible (SPEC 6.3). */
  noMember = 0;
  /** Other dropped datagrams: not accepting, no pool, queue full while connecting, socket errors. */
  drops = 0;
}

/** Why a flow closed; picks the counter. */
export type FlowCloseReason = "expired" | "evicted" | "refused" | "unhealthy" | "error" | "closed";

/** Datagrams kept for a flow while its upstream socket connects; more are dropped, as a full buffer would. */
const MAX_PENDING = 64;

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
    /** The SOURCE_IP binding table this flow holds its client's key in, if any. */
    readonly bindings: BindingStore | undefined,
    private readonly table: FlowTable,
    now: number,
  ) {
    this.lastSeen = now;
    this.upstream = dgram.createSocket(isIPv6(member.address) ? "udp6" : "udp4");
    this.upstream.on("message", this.onReply);
    this.upstream.on("error", this.onError);
    this.upstream.connect(member.port, member.address, this.onConnect);
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
    if (!this.replied) {
      // A reply proves the member is there: it resets the passive failure count.
      this.replied = true;
      this.table.ctx.outcomes.connectSucceeded(this.member);
    }
    this.table.touch(this, this.table.ctx.clock.now());
    this.member.bytesOut += msg.length;
    this.table.reply(msg, this.clientPort, this.clientAddress);
  };

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    if (this.closed) return;
    // Linux reports an ICMP "port unreachable" on a connected UDP socket as ECONNREFUSED on the
    // next receive (or send); it is the UDP form of a refused connect (SPEC 6.3, passive health).
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

/**
 * The flows of one listener. The caller (the listener) owns the socket that replies are sent from
 * and drives `sweep` from one timer.
 */
export class FlowTable {
  private readonly flows = new Map<string, UdpFlow>();
  /** Flows whose first datagram waits for the shared store, with their queued datagrams. */
  private readonly placing = new Map<string, Buffer[]>();

  constructor(
    private readonly socket: dgram.Socket,
    readonly counters: UdpListenerCounters,
    readonly ctx: DataPathContext,
    readonly listenerName: string,
  ) {}

  get size(): number {
    return this.flows.size;
  }

  get(key: string): UdpFlow | undefined {
    return this.flows.get(key);
  }

  /** Traffic on a flow: restart its idle time and move it to the back of the deadline order. */
  touch(flow: UdpFlow, now: number): void {
    // Within one millisecond the order cannot change, so skip the re-insertion.
    if (flow.lastSeen === now) return;
    flow.lastSeen = now;
    this.flows.delete(flow.key);
    this.flows.set(flow.key, flow);
  }

  /**
   * Opens a flow for a client's first datagram: place it by source IP (binding table or policy,
   * so one client IP with many source ports reaches one member), evict the oldest idle flow at the
   * bound, hold the client's SOURCE_IP binding while the flow lives. Undefined (and counted) when
   * no member is eligible. `"placing"` when the pool's shared store is asked first (a local miss):
   * the caller queues the datagram with {@link queueWhilePlacing}, and the flow opens, and sends
   * what was queued, when the store has answered (within its 50 ms budget).
   */
  open(
    key: string,
    address: string,
    port: number,
    pool: PoolRuntime,
    maxFlows: number,
    now: number,
  ): UdpFlow | undefined | "placing" {
    const clientIp = clientIpKey(address);
    const placed = pool.placeBySourceIp(clientIp);
    if (!(placed instanceof Promise))
      return this.create(key, address, port, clientIp, pool, maxFlows, now, placed);
    // Bounded by the store: at most its in-flight lookups wait at once, beyond which placement is
    // synchronous; each waiting flow queues at most MAX_PENDING datagrams.
    const queued: Buffer[] = [];
    this.placing.set(key, queued);
    placed.then((placement) => {
      if (this.placing.get(key) !== queued) return; // the listener closed meanwhile
      this.placing.delete(key);
      try {
        const flow = this.create(
          key,
          address,
          port,
          clientIp,
          pool,
          maxFlows,
          this.ctx.clock.now(),
          placement,
        );
        if (flow === undefined) {
          this.counters.drops += queued.length;
          return;
        }
        for (const msg of queued) flow.send(msg);
      } catch (err) {
        this.counters.drops += queued.length;
        reportFault(this.ctx, "udp", err, { listener: this.listenerName });
      }
    });
    return "placing";
  }

  /**
   * A datagram of a flow whose placement waits for the store: queued (bounded like a connecting
   * flow's) and true; false when no placement is waiting for this key.
   */
  queueWhilePlacing(key: string, msg: Buffer): boolean {
    const queued = this.placing.get(key);
    if (queued === undefined) return false;
    if (queued.length < MAX_PENDING) queued.push(msg);
    else this.counters.drops++;
    return true;
  }

  private create(
    key: string,
    address: string,
    port: number,
    clientIp: string,
    pool: PoolRuntime,
    maxFlows: number,
    now: number,
    placement: PlacedClient,
  ): UdpFlow | undefined {
    const member = placement.member;
    if (member === undefined) {
      this.counters.noMember++;
      return undefined;
    }
    while (this.flows.size >= maxFlows && this.evictOldest()) {}
    const bindings = pool.model.sessionPersistence?.type === "SOURCE_IP" ? pool.bindings : undefined;
    const flow = new UdpFlow(key, address, port, clientIp, member, bindings, this, now);
    // An open flow counts as traffic, so its binding cannot lapse while it lives (docs/affinity.md).
    bindings?.hold(clientIp);
    member.active++;
    member.total++;
    member.open.add(flow);
    this.flows.set(key, flow);
    this.counters.flowsOpened++;
    return flow;
  }

  /** Closes a flow (idempotent) and counts why. */
  close(flow: UdpFlow, reason: FlowCloseReason): void {
    if (flow.closed) return;
    flow.closed = true;
    if (this.flows.get(flow.key) === flow) this.flows.delete(flow.key);
    flow.bindings?.release(flow.clientIp);
    flow.member.active--;
    flow.member.open.delete(flow);
    try {
      flow.upstream.close();
    } catch {
      // Already closed by an error path; nothing left to release.
    }
    switch (reason) {
      case "expired":
        this.counters.flowsExpired++;
        break;
      case "evicted":
        this.counters.flowsEvicted++;
        break;
      case "refused":
        this.counters.flowsRefused++;
        break;
      case "unhealthy":
        this.counters.flowsRedispatched++;
        break;
      default:
        break;
    }
  }

  /** Closes the flows idle for `idleMs` or more; returns how many. */
  sweep(now: number, idleMs: number): number {
    let removed = 0;
    // The front has the oldest `lastSeen`, so stop at the first flow still within its idle time.
    for (const flow of this.flows.values()) {
      if (now - flow.lastSeen < idleMs) break;
      this.close(flow, "expired");
      removed++;
    }
    return removed;
  }

  closeAll(): void {
    // Placements still waiting for the store open nothing once the listener is closed.
    this.counters.drops += [...this.placing.values()].reduce((n, q) => n + q.length, 0);
    this.placing.clear();
    for (const flow of this.flows.values()) this.close(flow, "closed");
  }

  /** Sends a member's reply to the client from the listener's socket. */
  reply(msg: Buffer, port: number, address: string): void {
    try {
      this.socket.send(msg, port, address);
      this.counters.datagramsOut++;
      this.counters.bytesOut += msg.length;
    } catch {
      // The listener socket is closed (drain ended): the reply has nowhere to go.
      this.counters.drops++;
    }
  }

  private evictOldest(): boolean {
    const first = this.flows.values().next();
    if (first.done === true) return false;
    this.close(first.value, "evicted");
    return true;
  }
}
