import * as dgram from "node:dgram";
import { isIPv6 } from "node:net";
import type { ListenerModel } from "../../core/model.js";
import type { DataPathContext } from "../context.js";
import { reportFault } from "../fault-guard.js";
import { UdpListenerCounters } from "../proxy/udp-counters.js";
import { flowKey, type UdpFlow } from "../proxy/udp-flow.js";
import { FlowTable } from "../proxy/udp-flows.js";
import { bindKeyOf } from "../snapshot.js";
import type { RunningListener } from "./running-listener.js";

/**
 * Once a UDP listener has stopped accepting (removed from the configuration, or shutting down),
 * its flows lapse after this much silence, or their idle timeout if shorter. UDP has no "end of
 * connection", so waiting out a 300 s idle timeout would hold a drain for nothing; a flow that is
 * still exchanging datagrams keeps working until the drain deadline.
 */
export const DRAIN_IDLE_MS = 1000;

/**
 * Receive buffer of a listener socket. The kernel default (~208 KiB, about 256 small datagrams)
 * drops a burst of new flows while each waits for its upstream socket; the kernel caps the request
 * at `net.core.rmem_max` without an error.
 */
const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

/** How often a listener sweeps its flows: a tenth of the idle time, between 50 ms and 1 s. */
export function sweepPeriodOf(idleMs: number): number {
  return Math.min(1000, Math.max(50, Math.floor(idleMs / 10)));
}

export interface RunningUdpListener extends RunningListener {
  readonly counters: UdpListenerCounters;
  readonly flows: FlowTable;
  /** Runs the expiry sweep now (the timer does it too); returns how many flows expired. */
  sweep(): number;
}

/**
 * Binds a UDP listener (docs/reference/behaviour.md#udp): one socket, udp4 or udp6 by address. A datagram from a new
 * client address and port opens a flow with the snapshot current at that moment; later datagrams of
 * the flow go to the same member until the flow lapses, or until that member turns unhealthy — then
 * the flow is placed afresh, as Envoy's UDP proxy does, since a client that keeps sending would
 * otherwise never leave a dead member.
 */
export async function startUdpListener(
  model: ListenerModel,
  ctx: DataPathContext,
  counters: UdpListenerCounters = new UdpListenerCounters(),
): Promise<RunningUdpListener> {
  const bindKey = bindKeyOf(model);
  const socket = dgram.createSocket({
    type: isIPv6(model.address) ? "udp6" : "udp4",
    recvBufferSize: RECV_BUFFER_BYTES,
  });
  const table = new FlowTable(socket, counters, ctx, model.name);
  let accepting = true;
  let closed = false;
  /** Last idle timeout seen in a snapshot; kept once the listener has left the configuration. */
  let idleMs = model.timeouts.idleMs;

  const onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    counters.datagramsIn++;
    counters.bytesIn += msg.length;
    let flow: UdpFlow | undefined;
    try {
      const now = ctx.clock.now();
      const key = flowKey(rinfo.address, rinfo.port);
      flow = table.get(key);
      if (flow !== undefined && !flow.member.healthy) {
        table.close(flow, "unhealthy");
        flow = undefined;
      }
      if (flow === undefined) {
        if (table.queueWhilePlacing(key, msg)) return;
        if (!accepting) {
          counters.drops++;
          return;
        }
        const snapshot = ctx.holder.current;
        const current = snapshot.listeners.get(bindKey);
        const pool = current?.defaultPool === undefined ? undefined : snapshot.pools.get(current.defaultPool);
        if (current === undefined || pool === undefined) {
          counters.drops++;
          return;
        }
        const opened = table.open(key, rinfo.address, rinfo.port, pool, current.maxFlows, now);
        if (opened === "placing") {
          table.queueWhilePlacing(key, msg);
          return;
        }
        flow = opened;
        if (flow === undefined) {
          ctx.log.debug(
            { listener: model.name },
            "UDP datagram dropped: no eligible member, or the flow budget is spent",
          );
          return;
        }
      } else {
        table.touch(flow, now);
      }
      flow.send(msg);
    } catch (err) {
      // A bug costs this datagram and the flow it was for, never the listener (src/data/fault-guard.ts).
      counters.drops++;
      reportFault(ctx, "udp", err, { listener: model.name });
      if (flow !== undefined && !flow.closed) {
        counters.internalErrors++;
        try {
          table.close(flow, "fault");
        } catch (again) {
          reportFault(ctx, "udp", again, { listener: model.name });
        }
      }
    }
  };

  const sweep = (): number => {
    const current = ctx.holder.current.listeners.get(bindKey);
    if (current !== undefined) idleMs = current.timeouts.idleMs;
    return table.sweep(ctx.clock.now(), accepting ? idleMs : Math.min(idleMs, DRAIN_IDLE_MS));
  };
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    timer = setTimeout(
      () => {
        sweep();
        if (!closed) schedule();
      },
      sweepPeriodOf(accepting ? idleMs : Math.min(idleMs, DRAIN_IDLE_MS)),
    );
    timer.unref();
  };

  socket.on("message", onMessage);
  socket.on("error", (err) => ctx.log.error({ err, listener: model.name }, "UDP listener error"));
  try {
    await bind(socket, model.address, model.port);
  } catch (err) {
    socket.close();
    throw err;
  }
  schedule();
  return {
    bindKey,
    port: socket.address().port,
    counters,
    // The UDP series are declared here, beside the listener that counts them.
    report: () => ({
      unit: "datagrams",
      connections: counters.flowsOpened,
      traffic: counters.datagramsIn,
      bytesIn: counters.bytesIn,
      bytesOut: counters.bytesOut,
      events: {
        no_member: counters.noMember,
        drop: counters.drops,
        evicted_at_limit: counters.flowsEvictedAtLimit,
        refused_at_limit: counters.flowsRefusedAtLimit,
        internal_error: counters.internalErrors,
      },
      requests: [],
      udp: counters,
    }),
    flows: table,
    sweep,
    stopAccepting: async () => {
      accepting = false;
    },
    openCount: () => table.size,
    closeAll: () => {
      table.closeAll();
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      socket.close();
    },
  };
}

/** `socket.bind` as a promise that rejects on EADDRINUSE and the like instead of emitting. */
function bind(socket: dgram.Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    socket.once("error", onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off("error", onError);
      resolve();
    });
  });
}
