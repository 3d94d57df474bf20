import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { type Clock, systemClock } from "../core/clock.js";
import type { Logger } from "../core/log.js";
import { StickyError } from "../errors/codes.js";
import type { AdminSource, RemoteAdmin } from "./admin-source.js";
import { bearerMatches, isLoopback } from "./auth.js";
import { type ApiAnswer, deleteBindingShared, keyForLog, lookupBindingShared } from "./bindings-api.js";
import { DASHBOARD_HTML } from "./dashboard-page.js";
import { explainQuery } from "./explain-api.js";
import { createMetricsRegistry } from "./metrics.js";
import { RateTracker } from "./rates.js";
import { buildStatus, trafficSample } from "./status.js";

export type { AdminSource, RemoteAdmin } from "./admin-source.js";
export { runtimeAdminSource } from "./admin-source.js";

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface AdminServerOptions {
  /** Bearer token every API call must carry; required when `address` is not loopback. */
  readonly token?: string;
  /** The stickylb version shown by status and `stickylb_build_info`. */
  readonly version?: string;
  readonly clock?: Clock;
  /**
   * `--metrics-address`: only `/metrics`, `/healthz` and `/readyz`, without a token, on any
   * address. Nothing here reveals a client or changes state, so Prometheus and kubelet probes on
   * the pod's address need no secret; the bindings API and status stay on the admin listener.
   */
  readonly readOnly?: boolean;
}

const READ_ONLY_PATHS = new Set(["/metrics", "/healthz", "/readyz"]);

const BINDINGS_PATH = /^\/api\/v1\/pools\/([^/]+)\/bindings\/?$/;
const EXPLAIN_PATH = "/api/v1/explain";

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" }).end(body);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  send(res, status, "application/json; charset=utf-8", `${JSON.stringify(body, null, 2)}\n`);
}

/**
 * The admin listener (docs/reference/admin-api.md): `/healthz`, `/readyz`, `/metrics`, `/api/v1/status`, the bindings
 * API and the dashboard at `/`. It is a separate listener so that data-path load never hides it.
 * Health and readiness (and the static dashboard page, which holds no data) answer without a
 * token; everything else requires the bearer token when one is configured.
 */
export async function startAdminServer(
  address: string,
  port: number,
  source: AdminSource,
  log: Logger,
  options: AdminServerOptions = {},
): Promise<AdminServer> {
  const readOnly = options.readOnly ?? false;
  const token = readOnly ? undefined : options.token;
  if (token === undefined && !readOnly && !isLoopback(address)) {
    throw new StickyError(
      "SLB_ERR_ADMIN_TOKEN",
      `the admin listener on ${address} is reachable from other machines and needs a bearer token: pass --admin-token-file FILE, or bind it to 127.0.0.1`,
    );
  }
  const clock = options.clock ?? systemClock;
  const version = options.version ?? "0.0.0";
  const startedAt = clock.now();
  const registry = createMetricsRegistry(source, version);
  const rates = new RateTracker(clock);
  const runtime = source.runtime;
  let sampler: NodeJS.Timeout | undefined;
  if (runtime !== undefined) {
    rates.sample(trafficSample(runtime));
    sampler = setInterval(() => rates.sample(trafficSample(runtime)), 1000);
    sampler.unref();
  }

  const remote = source.remote;
  const audit = (req: http.IncomingMessage, action: string, pool: string, key: string, answer: ApiAnswer) => {
    const type =
      remote?.persistenceOf(pool) ??
      runtime?.current.pools.get(pool)?.model.sessionPersistence?.type ??
      "none";
    log.info(
      {
        audit: action,
        pool,
        key: keyForLog(type, key),
        outcome: answer.outcome,
        status: answer.status,
        ...(answer.member === undefined ? {} : { member: answer.member }),
        remote: req.socket.remoteAddress,
      },
      action === "binding.delete" ? "admin: binding deleted" : "admin: binding looked up",
    );
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://admin.invalid");
    const path = url.pathname;
    const method = req.method ?? "GET";
    if (readOnly && !READ_ONLY_PATHS.has(path)) {
      send(res, 404, "text/plain", "not found (this listener serves /metrics, /healthz and /readyz)\n");
      return;
    }
    const bindings = BINDINGS_PATH.exec(path);
    const allowed = bindings !== null ? ["GET", "HEAD", "DELETE"] : ["GET", "HEAD"];
    if (!allowed.includes(method)) {
      res.setHeader("allow", allowed.join(", "));
      send(res, 405, "text/plain", "method not allowed\n");
      return;
    }
    if (path === "/healthz") {
      send(res, 200, "text/plain", "ok\n");
      return;
    }
    if (path === "/readyz") {
      const ready = source.ready();
      send(res, ready ? 200 : 503, "text/plain", ready ? "ready\n" : "not ready\n");
      return;
    }
    if (path === "/" || path === "/index.html") {
      send(res, 200, "text/html; charset=utf-8", DASHBOARD_HTML);
      return;
    }
    const known =
      path === "/metrics" || path === "/api/v1/status" || path === EXPLAIN_PATH || bindings !== null;
    if (!known) {
      send(res, 404, "text/plain", "not found\n");
      return;
    }
    if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
      res.setHeader("www-authenticate", 'Bearer realm="stickylb"');
      sendJson(res, 401, { error: "a bearer token is required (Authorization: Bearer TOKEN)" });
      return;
    }
    if (path === "/metrics") {
      await source.kernel?.refresh();
      send(res, 200, registry.contentType, await (remote?.metrics() ?? registry.metrics()));
      return;
    }
    if (remote !== undefined && path === EXPLAIN_PATH) {
      // The primary of --workers has no snapshot of its own; each worker places its own clients.
      sendJson(res, 501, {
        error: "explain is not available with --workers (each worker places its own clients)",
      });
      return;
    }
    if (remote !== undefined) {
      await handleRemote(req, res, url, bindings, remote);
      return;
    }
    if (runtime === undefined) {
      sendJson(res, 503, { error: "the load balancer is not running yet" });
      return;
    }
    if (path === EXPLAIN_PATH) {
      const answer = explainQuery(runtime, url.searchParams, clock.now());
      sendJson(res, answer.status, answer.body);
      return;
    }
    if (path === "/api/v1/status") {
      const status = buildStatus(runtime, rates, version, (clock.now() - startedAt) / 1000);
      if (source.kernel === undefined) {
        sendJson(res, 200, status);
        return;
      }
      await source.kernel.refresh();
      sendJson(res, 200, { ...status, kernel: source.kernel.status() });
      return;
    }
    const pool = decodeURIComponent(bindings![1]!);
    const key = url.searchParams.get("key");
    if (key === null || key === "") {
      sendJson(res, 400, {
        error: "the key query parameter is required: a client IP (SOURCE_IP) or a cookie value",
      });
      return;
    }
    const kernel = source.kernel?.handlesPool(pool) === true ? source.kernel : undefined;
    const answer =
      kernel !== undefined
        ? await (method === "DELETE" ? kernel.remove(pool, key) : kernel.lookup(pool, key))
        : method === "DELETE"
          ? await deleteBindingShared(runtime, pool, key)
          : await lookupBindingShared(runtime, pool, key, clock.now());
    audit(req, method === "DELETE" ? "binding.delete" : "binding.lookup", pool, key, answer);
    sendJson(res, answer.status, answer.body);
  };

  const handleRemote = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    bindings: RegExpExecArray | null,
    remote: RemoteAdmin,
  ): Promise<void> => {
    if (bindings === null) {
      sendJson(res, 200, await remote.status());
      return;
    }
    const pool = decodeURIComponent(bindings[1]!);
    const key = url.searchParams.get("key");
    if (key === null || key === "") {
      sendJson(res, 400, {
        error: "the key query parameter is required: a client IP (SOURCE_IP) or a cookie value",
      });
      return;
    }
    const remove = req.method === "DELETE";
    const answer = await (remove ? remote.remove(pool, key) : remote.lookup(pool, key));
    audit(req, remove ? "binding.delete" : "binding.lookup", pool, key, answer);
    sendJson(res, answer.status, answer.body);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err, path: req.url?.split("?", 1)[0] }, "admin request failed");
      if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  log.info(
    { address, port: bound, auth: token !== undefined ? "bearer" : "none" },
    readOnly ? "metrics listener bound" : "admin listener bound",
  );
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        if (sampler !== undefined) clearInterval(sampler);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Starts the admin listener unless it is `off`; a bind failure is logged, not fatal: the data path
 * is already up, and an admin port in use must not take the load balancer down with it.
 */
export async function startAdminOrLog(
  at: { address: string; port: number } | "off",
  source: AdminSource,
  log: Logger,
  options: { token?: string | undefined; version: string; readOnly?: boolean },
): Promise<AdminServer | undefined> {
  if (at === "off") return undefined;
  try {
    return await startAdminServer(at.address, at.port, source, log, {
      ...(options.token === undefined ? {} : { token: options.token }),
      version: options.version,
      ...(options.readOnly === true ? { readOnly: true } : {}),
    });
  } catch (err) {
    const which = options.readOnly === true ? "metrics" : "admin";
    log.error({ err, address: at.address, port: at.port }, `${which} listener could not bind`);
    return undefined;
  }
}
