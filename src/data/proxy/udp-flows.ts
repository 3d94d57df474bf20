/**
 * The UDP flow table (docs/udp.md): one flow per client address and port, each with a dedicated
 * upstream socket connected to its member, so replies come back on that socket and are relayed to
 * the client from the listener's own address.
 *
 * Expiry and the bounds use one deadline-ordered index, as the binding tables do (HAProxy stick
 * tables): every flow of a listener has the same idle timeout, so ordering flows by their last
 * datagram *is* ordering them by deadline. A touch moves the flow to the tail of the same
 * intrusive doubly linked list (`DeadlineList`, data/deadline-list.ts); the head is both the oldest idle flow (the one to evict at a bound) and the
 * earliest deadline (the one to expire). One sweep per listener pops expired flows from the head:
 * O(expired), no timer per flow. The list and not the `Map`'s own insertion order (touch = delete
 * + set), for the reason binding-table.ts gives: after k deletes, finding the oldest entry through
 * a fresh `Map` iterator skips k holes, which made eviction under a flood quadratic.
 *
 * Two bounds: the listener's `maxFlows`, and the process-wide descriptor budget of UDP flows
 * (data/limits), since every flow owns a socket. At either bound a new flow evicts this listener's
 * oldest idle flow; when this listener has none (another listener holds the budget), the new flow
 * is refused and its datagram dropped, both counted.
 */
import type * as dgram from "node:dgram";
import { clientIpKey } from "../../core/member.js";
import { l4Client, type PlacedClient, placeClient } from "../affinity/placement-front.js";
import type { DataPathContext } from "../context.js";
import { DeadlineList } from "../deadline-list.js";
import { reportFault } from "../fault-guard.js";
import type { ConnectionBudget } from "../limits/connection-budget.js";
import type { PoolRuntime } from "../upstream/pool-runtime.js";
import type { UdpListenerCounters } from "./udp-counters.js";
import { type FlowCloseReason, type FlowOwner, MAX_PENDING, UdpFlow } from "./udp-flow.js";

/**
 * The flows of one listener. The caller (the listener) owns the socket that replies are sent from
 * and drives `sweep` from one timer.
 */
export class FlowTable implements FlowOwner {
  private readonly flows = new Map<string, UdpFlow>();
  /** Deadline order: head = least recently active = first to expire or be evicted. */
  private readonly order = new DeadlineList<UdpFlow>();
  /** The process-wide flow budget, when the runtime gives one (tests may leave it out). */
  private readonly budget: ConnectionBudget | undefined;
  /** Flows whose first datagram waits for the shared store, with their queued datagrams. */
  private readonly placing = new Map<string, Buffer[]>();

  constructor(
    private readonly socket: dgram.Socket,
    readonly counters: UdpListenerCounters,
    readonly ctx: DataPathContext,
    readonly listenerName: string,
  ) {
    this.budget = ctx.budgets?.udpFlows;
  }

  get size(): number {
    return this.flows.size;
  }

  get(key: string): UdpFlow | undefined {
    return this.flows.get(key);
  }

  /** Traffic on a flow: restart its idle time and move it to the tail of the deadline order. */
  touch(flow: UdpFlow, now: number): void {
    // A clock that steps back must not break the order: a touch never moves a flow's time back.
    if (now <= flow.lastSeen || flow.closed) return;
    flow.lastSeen = now;
    this.order.moveToTail(flow);
  }

  /**
   * Opens a flow for a client's first datagram: place it through the placement front (an L4
   * client is its address, so one client IP with many source ports reaches one member under
   * SOURCE_IP persistence), make room under both bounds, hold the client's binding while the flow
   * lives. Undefined (and counted) when no member is eligible or the process's flow budget is spent
   * by other listeners. `"placing"` when the pool's shared store is asked first (a local miss):
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
    const placed = placeClient(pool, l4Client(clientIp));
    if (!(placed instanceof Promise)) return this.create(key, address, port, clientIp, maxFlows, now, placed);
    // Bounded by the store: at most its in-flight lookups wait at once, beyond which placement is
    // synchronous; each waiting flow queues at most MAX_PENDING datagrams.
    const queued: Buffer[] = [];
    this.placing.set(key, queued);
    placed.then((placement) => {
      if (this.placing.get(key) !== queued) return; // the listener closed meanwhile
      this.placing.delete(key);
      try {
        const flow = this.create(key, address, port, clientIp, maxFlows, this.ctx.clock.now(), placement);
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
    maxFlows: number,
    now: number,
    placement: PlacedClient,
  ): UdpFlow | undefined {
    const member = placement.member;
    if (member === undefined) {
      this.counters.noMember++;
      return undefined;
    }
    while (this.flows.size >= maxFlows && this.evictOldest("evicted")) {}
    if (!this.makeRoomInBudget()) {
      this.counters.flowsRefusedAtLimit++;
      return undefined;
    }
    let flow: UdpFlow;
    try {
      flow = new UdpFlow(key, address, port, clientIp, member, placement, this, now);
    } catch (err) {
      this.budget?.release();
      throw err;
    }
    // An open flow counts as traffic, so its binding cannot lapse while it lives (docs/affinity.md).
    placement.hold();
    this.flows.set(key, flow);
    this.order.append(flow);
    this.counters.flowsOpened++;
    return flow;
  }

  /** Closes a flow (idempotent) and counts why. */
  close(flow: UdpFlow, reason: FlowCloseReason): void {
    if (flow.closed) return;
    flow.closed = true;
    if (this.flows.get(flow.key) === flow) {
      this.flows.delete(flow.key);
      this.order.unlink(flow);
      this.budget?.release();
    }
    flow.placement.release();
    flow.unclaim();
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
      case "evicted-at-limit":
        this.counters.flowsEvicted++;
        this.counters.flowsEvictedAtLimit++;
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
    // The head has the oldest `lastSeen`, so stop at the first flow still within its idle time.
    while (this.order.head !== null && now - this.order.head.lastSeen >= idleMs) {
      this.close(this.order.head, "expired");
      removed++;
    }
    return removed;
  }

  closeAll(): void {
    // Placements still waiting for the store open nothing once the listener is closed.
    this.counters.drops += [...this.placing.values()].reduce((n, q) => n + q.length, 0);
    this.placing.clear();
    while (this.order.head !== null) this.close(this.order.head, "closed");
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

  /** Takes one entry of the process's flow budget, evicting our oldest flows while it is spent. */
  private makeRoomInBudget(): boolean {
    const budget = this.budget;
    if (budget === undefined) return true;
    while (!budget.tryAcquire()) {
      if (!this.evictOldest("evicted-at-limit")) {
        budget.refused++;
        return false;
      }
      budget.evicted++;
    }
    return true;
  }

  private evictOldest(reason: "evicted" | "evicted-at-limit"): boolean {
    if (this.order.head === null) return false;
    this.close(this.order.head, reason);
    return true;
  }
}
