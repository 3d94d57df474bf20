/**
 * HTTP and HTTPS listeners (SPEC 6.6). Node's strict parser does the framing (never the lenient
 * `insecureHTTPParser`): a head over 64 KiB is answered 431, anything malformed 400, and either
 * closes the connection before a member sees a byte. Each request reads the snapshot current when
 * it arrives, so a reload applies to the next request of a kept-alive connection.
 */
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import type { Duplex } from "node:stream";
import type { ListenerModel, Timeouts } from "../../core/model.js";
import type { DataPathContext } from "../context.js";
import { HttpListenerCounters } from "../proxy/http-counters.js";
import { forwardHttp, type HttpEnv } from "../proxy/http-forward.js";
import { writeRawResponse } from "../proxy/http-local.js";
import { forwardUpgrade } from "../proxy/http-upgrade.js";
import { bindKeyOf, type Snapshot } from "../snapshot.js";
import { type HttpAgents, sharedHttpAgents } from "../upstream/http-agents.js";
import { setCarriedClientAddress } from "./client-address.js";
import { readProxyHeader } from "./proxy-protocol.js";
import type { RunningListener } from "./running-listener.js";
import { listen } from "./tcp-listener.js";
import { contextFor, sniTableFor } from "./tls-contexts.js";

/** SPEC 6.6: a request head over 64 KiB yields 431. */
export const MAX_HEADER_SIZE = 65_536;

export interface HttpListenerOptions {
  readonly counters?: HttpListenerCounters;
  readonly agents?: HttpAgents;
}

/**
 * Node checks `headersTimeout`/`requestTimeout` only every `connectionsCheckingInterval` (30 s by
 * default); check at a quarter of the client timeout so that a slow client is closed near it.
 */
function checkingIntervalOf(t: Timeouts): number {
  return Math.max(100, Math.min(30_000, Math.floor(t.clientMs / 4)));
}

function applyTimeouts(server: http.Server, t: Timeouts): void {
  server.headersTimeout = t.clientMs;
  server.requestTimeout = t.clientMs;
  server.keepAliveTimeout = t.idleMs;
  // The idle timeout of a connection between requests is keepAliveTimeout; while a request is
  // being served the member timeout and the client timeout govern.
  server.timeout = 0;
}

/** The client-side parser error → the answer SPEC 6.6 asks for, or undefined to just close. */
function statusForClientError(err: NodeJS.ErrnoException): 400 | 408 | 431 | undefined {
  if (err.code === "HPE_HEADER_OVERFLOW") return 431;
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") return 408;
  if (err.code === "ECONNRESET" || err.code === "EPIPE") return undefined;
  return 400;
}

/** Binds an HTTP or HTTPS listener (by the model's protocol); the factory of both protocols. */
export async function startHttpListener(
  model: ListenerModel,
  ctx: DataPathContext,
  options: HttpListenerOptions = {},
): Promise<RunningListener & { counters: HttpListenerCounters }> {
  const counters = options.counters ?? new HttpListenerCounters();
  const agents = options.agents ?? sharedHttpAgents;
  const bindKey = bindKeyOf(model);
  const secure = model.protocol === "HTTPS";
  const open = new Set<Duplex>();

  const serverOptions: http.ServerOptions = {
    maxHeaderSize: MAX_HEADER_SIZE,
    insecureHTTPParser: false,
    requestTimeout: model.timeouts.clientMs,
    headersTimeout: model.timeouts.clientMs,
    keepAliveTimeout: model.timeouts.idleMs,
    connectionsCheckingInterval: checkingIntervalOf(model.timeouts),
    noDelay: true,
  };
  let server: http.Server;
  let tlsServer: https.Server | undefined;
  if (secure) {
    const table = sniTableFor(model);
    tlsServer = https.createServer({
      ...serverOptions,
      ...table.defaultOptions,
      // The certificates of the listener model current at the handshake: a reload that changes
      // them applies to the next handshake.
      SNICallback: (servername, cb) => {
        try {
          const current = ctx.holder.current.listeners.get(bindKey) ?? model;
          cb(null, contextFor(sniTableFor(current), servername));
        } catch (err) {
          cb(err as Error);
        }
      },
    });
    server = tlsServer;
  } else {
    server = http.createServer(serverOptions);
  }
  applyTimeouts(server, model.timeouts);

  let port = model.port;
  const envOf = (): HttpEnv => ({ ctx, counters, agents, https: secure, port });
  let env: HttpEnv | undefined;

  const currentModel = (): { snapshot: Snapshot; listener: ListenerModel | undefined } => {
    const snapshot = ctx.holder.current;
    return { snapshot, listener: snapshot.listeners.get(bindKey) };
  };

  server.on("connection", (socket: net.Socket) => {
    counters.connections++;
    open.add(socket);
    socket.once("close", () => {
      open.delete(socket);
      counters.bytesIn += socket.bytesRead;
      counters.bytesOut += socket.bytesWritten;
    });
  });

  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    try {
      const { snapshot, listener } = currentModel();
      env ??= envOf();
      if (listener === undefined) {
        // The listener left the configuration and drains: serve nothing new on it.
        res.writeHead(503, { Connection: "close", "Content-Length": 0 });
        res.end();
        return;
      }
      forwardHttp(req, res, listener, snapshot, env);
    } catch (err) {
      // The data path never throws past a request (STYLE point 6).
      ctx.log.error({ err, listener: model.name }, "unexpected error forwarding an HTTP request");
      res.destroy();
    }
  });

  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      const { snapshot, listener } = currentModel();
      env ??= envOf();
      if (listener === undefined) {
        writeRawResponse(socket, 503);
        return;
      }
      forwardUpgrade(req, socket, head, listener, snapshot, env);
    } catch (err) {
      ctx.log.error({ err, listener: model.name }, "unexpected error forwarding an upgrade");
      socket.destroy();
    }
  });

  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    const status = statusForClientError(err);
    if (status === 431) counters.headerTooLarge++;
    else if (status === 400) counters.malformed++;
    else if (status === 408) counters.clientTimeouts++;
    if (status === undefined) {
      socket.destroy();
      return;
    }
    counters.countResponse("", "", status);
    ctx.log.debug({ listener: model.name, err: err.code, status }, "refused client request");
    writeRawResponse(socket, status);
  });
  server.on("tlsClientError", (err: NodeJS.ErrnoException) => {
    ctx.log.debug({ listener: model.name, err: err.code ?? err.message }, "TLS handshake failed");
  });
  server.on("error", (err) => ctx.log.error({ err, listener: model.name }, "HTTP listener error"));

  // A reload may change the timeouts of a listener that keeps its socket.
  let applied = model;
  ctx.holder.onSwap((next) => {
    const current = next.listeners.get(bindKey);
    if (current !== undefined && current !== applied) {
      applied = current;
      applyTimeouts(server, current.timeouts);
      if (tlsServer !== undefined) {
        try {
          tlsServer.setSecureContext(sniTableFor(current).defaultOptions);
        } catch (err) {
          ctx.log.error(
            { err, listener: current.name },
            "cannot load the new certificates; keeping the old ones",
          );
        }
      }
    }
    const members = new Set<string>();
    for (const pool of next.pools.values()) for (const m of pool.members) members.add(m.id);
    agents.retain(members);
  });

  // With the PROXY protocol a plain TCP server accepts, reads the header, then hands the socket to
  // the HTTP(S) server as if it had accepted it itself.
  const front =
    model.proxyProtocol && ctx.injected !== true ? net.createServer({ noDelay: true }) : undefined;
  if (front !== undefined) {
    front.on("connection", (socket: net.Socket) => {
      socket.on("error", () => {});
      readProxyHeader(socket, model.timeouts.clientMs).then(
        (header) => {
          if (header.kind === "proxy") setCarriedClientAddress(socket, header.sourceAddress);
          server.emit("connection", socket);
          socket.resume();
        },
        (err: Error) => {
          counters.proxyHeaderRejected++;
          ctx.log.warn(
            { listener: model.name, client: socket.remoteAddress, reason: err.message },
            "PROXY header refused",
          );
          socket.destroy();
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
    socket.on("error", () => {});
    socket.setNoDelay(true);
    if (carriedAddress !== undefined) setCarriedClientAddress(socket, carriedAddress);
    if (leftover !== undefined && leftover.length > 0) socket.unshift(leftover);
    server.emit("connection", socket);
  };
  if (ctx.injected === true) {
    port = model.port;
  } else {
    const acceptor: net.Server = front ?? server;
    await listen(acceptor, model.address, model.port);
    port = (acceptor.address() as net.AddressInfo).port;
  }
  // Node starts the checks of `headersTimeout`/`requestTimeout` on "listening"; a server that is
  // handed its connections (PROXY front, or the primary of `--workers`) never listens itself.
  if (front !== undefined || ctx.injected === true) server.emit("listening");
  return {
    bindKey,
    port,
    counters,
    ...(ctx.injected === true ? { accept } : {}),
    stopAccepting: async () => {
      accepting = false;
      front?.close();
      server.close();
      // Kept-alive connections with no request in flight would otherwise wait for their idle timeout.
      server.closeIdleConnections();
    },
    openCount: () => open.size,
    closeAll: () => {
      for (const s of open) s.destroy();
      server.closeAllConnections();
    },
  };
}
