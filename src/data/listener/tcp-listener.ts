import * as net from "node:net";
import { clientIpKey } from "../../core/member.js";
import type { ListenerModel } from "../../core/model.js";
import type { DataPathContext } from "../context.js";
import { reportFault } from "../fault-guard.js";
import { admitSocket } from "../limits/connection-budget.js";
import { relayTcp, TcpListenerCounters } from "../proxy/tcp-proxy.js";
import { bindKeyOf } from "../snapshot.js";
import { readProxyHeader, refuseProxyHeader } from "./proxy-protocol.js";
import type { RunningListener } from "./running-listener.js";

/** Binds a TCP listener; each accepted connection is relayed with the snapshot current at accept time. */
export async function startTcpListener(
  model: ListenerModel,
  ctx: DataPathContext,
  counters: TcpListenerCounters = new TcpListenerCounters(),
): Promise<RunningListener & { counters: TcpListenerCounters }> {
  const bindKey = bindKeyOf(model);
  const open = new Set<net.Socket>();
  /** False when the process's connection budget is spent: the client was closed at once. */
  const admit = (client: net.Socket): boolean => {
    client.on("error", () => {});
    if (!admitSocket(ctx.budgets?.connections, client)) return false;
    open.add(client);
    client.once("close", () => open.delete(client));
    counters.connections++;
    return true;
  };
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    if (!admit(client)) return;
    if (!model.proxyProtocol) {
      dispatch(client, clientIpKey(client.remoteAddress));
      return;
    }
    readProxyHeader(client, model.timeouts.clientMs).then(
      (header) =>
        dispatch(client, clientIpKey(header.kind === "proxy" ? header.sourceAddress : client.remoteAddress)),
      (err: Error) => {
        counters.proxyHeaderRejected++;
        refuseProxyHeader(ctx.log, model.name, client, err);
      },
    );
  });
  /** Relays with the snapshot current now; the listener's model may have changed since the bind. */
  const dispatch = (client: net.Socket, clientIp: string): void => {
    try {
      const snapshot = ctx.holder.current;
      const current = snapshot.listeners.get(bindKey);
      const pool = current?.defaultPool === undefined ? undefined : snapshot.pools.get(current.defaultPool);
      if (current === undefined || pool === undefined) {
        client.destroy();
        return;
      }
      relayTcp(client, clientIp, current, pool, counters, ctx);
    } catch (err) {
      // The data path never throws past a connection.
      reportFault(ctx, "tcp", err, { listener: model.name });
      client.destroy();
    }
  };
  server.on("error", (err) => ctx.log.error({ err, listener: model.name }, "TCP listener error"));
  let accepting = true;
  /** A connection the primary accepted (and whose PROXY header it read): relay it as our own. */
  const accept = (client: net.Socket, carriedAddress?: string, leftover?: Buffer): void => {
    if (!accepting) {
      client.destroy();
      return;
    }
    // A socket made from a passed handle is not half-open by default; the relay needs it to be.
    client.allowHalfOpen = true;
    client.setNoDelay(true);
    if (!admit(client)) return;
    if (leftover !== undefined && leftover.length > 0) client.unshift(leftover);
    dispatch(client, clientIpKey(carriedAddress ?? client.remoteAddress));
  };
  if (ctx.injected !== true) await listen(server, model.address, model.port);
  const port = ctx.injected === true ? model.port : (server.address() as net.AddressInfo).port;
  return {
    bindKey,
    port,
    counters,
    report: () => counters.report(),
    // server.close() stops accepting at once; its callback would wait for every open connection.
    stopAccepting: async () => {
      accepting = false;
      if (ctx.injected !== true) server.close();
    },
    ...(ctx.injected === true ? { accept } : {}),
    openCount: () => open.size,
    closeAll: () => {
      for (const s of open) s.destroy();
    },
  };
}

/** `server.listen` as a promise that rejects on EADDRINUSE and the like instead of emitting. */
export function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once("error", onError);
    server.listen({ host, port }, () => {
      server.off("error", onError);
      resolve();
    });
  });
}
