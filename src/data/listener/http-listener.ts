/**
 * HTTP and HTTPS listeners (docs/reference/behaviour.md#http-forwarding). A plain TCP server (or a TLS server, with SNI choosing the
 * certificate) accepts connections; each is served by an {@link HttpClientConnection}, which parses
 * requests with the strict HTTP/1.1 parser of `data/http1` and forwards them. Each request reads
 * the snapshot current when it arrives, so a reload applies to the next request of a kept-alive
 * connection.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import type { ListenerModel } from "../../core/model.js";
import type { DataPathContext } from "../context.js";
import { admitSocket } from "../limits/connection-budget.js";
import { HttpClientConnection } from "../proxy/http-client-connection.js";
import { HttpListenerCounters } from "../proxy/http-counters.js";
import type { HttpEnv } from "../proxy/http-forward.js";
import { bindKeyOf, type Snapshot } from "../snapshot.js";
import type { MemberConnectionPools } from "../upstream/member-connections.js";
import { CarriedAddresses } from "./client-address.js";
import { readProxyHeader, refuseProxyHeader } from "./proxy-protocol.js";
import type { RunningListener } from "./running-listener.js";
import { listen } from "./tcp-listener.js";
import { compileSniTable, contextFor, type SniTable } from "./tls-contexts.js";

export interface HttpListenerOptions {
  readonly counters?: HttpListenerCounters;
  readonly agents?: MemberConnectionPools;
}

/** Binds an HTTP or HTTPS listener (by the model's protocol); the factory of both protocols. */
export async function startHttpListener(
  model: ListenerModel,
  ctx: DataPathContext,
  options: HttpListenerOptions = {},
): Promise<RunningListener & { counters: HttpListenerCounters }> {
  const counters = options.counters ?? new HttpListenerCounters();
  const agents = options.agents ?? ctx.memberPools;
  const bindKey = bindKeyOf(model);
  const secure = model.protocol === "HTTPS";
  /** Accepted TCP sockets (under TLS too), for closeAll and the open count. */
  const open = new Set<net.Socket>();
  const connections = new Set<HttpClientConnection>();
  /** Client addresses read from PROXY headers (here or by the `--workers` primary). */
  const carried = new CarriedAddresses();

  let port = model.port;
  let env: HttpEnv | undefined;
  const host = {
    get env(): HttpEnv {
      env ??= { ctx, counters, agents, https: secure, port };
      return env;
    },
    initial: model,
    connections,
    bindKey,
    currentSnapshot: (): Snapshot => ctx.holder.current,
  };
  const serve = (socket: net.Socket): void => {
    // Closed at once when over the process's connection budget (below).
    if (socket.destroyed) return;
    new HttpClientConnection(socket, host, carried.of(socket));
  };

  let server: net.Server;
  let tlsServer: tls.Server | undefined;
  let table: SniTable | undefined;
  if (secure) {
    // The certificates come compiled with the snapshot; a listener started outside a runtime
    // (tests) compiles its own.
    table = ctx.holder.current.compiled.get(bindKey)?.sni ?? compileSniTable(model);
    tlsServer = tls.createServer(
      {
        ...table.defaultOptions,
        handshakeTimeout: model.timeouts.clientMs,
        allowHalfOpen: true,
        // The certificates of the listener model current at the handshake: a reload that changes
        // them applies to the next handshake.
        SNICallback: (servername, cb) => {
          try {
            const current = ctx.holder.current.compiled.get(bindKey)?.sni ?? appliedSni!;
            cb(null, contextFor(current, servername));
          } catch (err) {
            cb(err as Error);
          }
        },
      },
      serve,
    );
    tlsServer.on("tlsClientError", (err: NodeJS.ErrnoException) => {
      ctx.log.debug({ listener: model.name, err: err.code ?? err.message }, "TLS handshake failed");
    });
    server = tlsServer;
  } else {
    // Half-open: a client that sends its request and then FIN still gets its response.
    server = net.createServer({ noDelay: true, allowHalfOpen: true }, serve);
  }
  // First of the 'connection' listeners, so a connection over the process's budget is closed
  // before anything serves it.
  server.prependListener("connection", (socket: net.Socket) => {
    socket.on("error", noop);
    admitSocket(ctx.budgets?.connections, socket);
  });
  server.on("connection", (socket: net.Socket) => {
    if (socket.destroyed) return;
    counters.connections++;
    socket.setNoDelay(true);
    socket.on("error", noop);
    open.add(socket);
    socket.once("close", () => {
      open.delete(socket);
      counters.bytesIn += socket.bytesRead;
      counters.bytesOut += socket.bytesWritten;
    });
  });
  server.on("error", (err) => ctx.log.error({ err, listener: model.name }, "HTTP listener error"));

  let appliedSni = table;
  /**
   * A reload that keeps this listener's socket: new certificates become the server's default
   * context (SNI already reads the current snapshot). Called by the listener set after the swap;
   * nothing here subscribes to the holder, so a removed listener leaves no reference behind.
   */
  const update = (snapshot: Snapshot): void => {
    const sni = snapshot.compiled.get(bindKey)?.sni;
    if (tlsServer === undefined || sni === undefined || sni === appliedSni) return;
    appliedSni = sni;
    tlsServer.setSecureContext(sni.defaultOptions);
  };

  // With the PROXY protocol a plain TCP server accepts, reads the header, then hands the socket to
  // the HTTP(S) server as if it had accepted it itself.
  const front =
    model.proxyProtocol && ctx.injected !== true ? net.createServer({ noDelay: true }) : undefined;
  if (front !== undefined) {
    front.on("connection", (socket: net.Socket) => {
      socket.on("error", noop);
      readProxyHeader(socket, model.timeouts.clientMs).then(
        (header) => {
          if (header.kind === "proxy") carried.set(socket, header.sourceAddress);
          server.emit("connection", socket);
          socket.resume();
        },
        (err: Error) => {
          counters.proxyHeaderRejected++;
          refuseProxyHeader(ctx.log, model.name, socket, err);
        },
      );
    });
    front.on("error", (err) => ctx.log.error({ err, listener: model.name }, "HTTP listener error"));
  }
  let accepting = true;
  /** A connection the primary accepted (and whose PROXY header it read), served as our own. */
  const accept = (socket: net.Socket, carriedAddress?: string, leftover?: Buffer): void => {
    if (!accepting) {
      socket.destroy();
      return;
    }
    if (carriedAddress !== undefined) carried.set(socket, carriedAddress);
    if (leftover !== undefined && leftover.length > 0) socket.unshift(leftover);
    server.emit("connection", socket);
  };
  if (ctx.injected !== true) {
    const acceptor: net.Server = front ?? server;
    await listen(acceptor, model.address, model.port);
    port = (acceptor.address() as net.AddressInfo).port;
  }
  return {
    bindKey,
    port,
    counters,
    report: () => counters.report(),
    forgetSeries: (live) => counters.forget(live),
    update,
    ...(ctx.injected === true ? { accept } : {}),
    stopAccepting: async () => {
      accepting = false;
      front?.close();
      server.close();
      // Kept-alive connections with no request in flight would otherwise wait for their idle timeout.
      for (const connection of connections) connection.closeWhenIdle();
    },
    openCount: () => open.size,
    closeAll: () => {
      for (const s of open) s.destroy();
      for (const c of connections) c.socket.destroy();
    },
  };
}

function noop(): void {}
