/**
 * The wiring every serving process shares — `run -f`, `run --kubernetes` and the primary of
 * `--workers N`: the admin token (refused at start with its code), the admin listener (and the
 * read-only metrics listener), SIGHUP,
 * and the one stop sequence (data path first, then the admin listener, then the SIGHUP handler).
 * Written once so that the three cannot drift apart.
 */
import type { AdminSource } from "../admin/admin-server.js";
import { startAdminOrLog } from "../admin/admin-server.js";
import { adminToken } from "../admin/auth.js";
import type { Logger } from "../core/log.js";
import { StickyError } from "../errors/codes.js";
import { untilStopSignal } from "./graceful-stop.js";

export type AdminAt = { readonly address: string; readonly port: number } | "off";

/**
 * The bearer token the admin listener at `at` needs (none on loopback or when off). A token that
 * is required but unusable is written as `CODE: message` to `err`; the result is then `false`
 * and the process exits 2.
 */
export function resolveAdminToken(
  at: AdminAt,
  tokenFile: string | undefined,
  err: NodeJS.WritableStream,
): { token: string | undefined } | false {
  try {
    return { token: at === "off" ? undefined : adminToken(at.address, tokenFile) };
  } catch (e) {
    if (!(e instanceof StickyError)) throw e;
    err.write(`${e.code}: ${e.message}\n`);
    return false;
  }
}

export interface ServeOptions {
  readonly admin: AdminAt;
  readonly adminToken: string | undefined;
  readonly version: string;
  readonly log: Logger;
  /** What the admin API reads. */
  readonly source: AdminSource;
  /** Open client connections, logged when the stop begins. */
  readonly openConnections: () => number;
  /** SIGHUP: reload the configuration (or rebuild it from the caches). */
  readonly reload: () => void;
  /** Stops the data path (drain up to the drain timeout); the admin listener stays up meanwhile. */
  readonly stopData: () => Promise<void>;
  /** Called once the admin listener is up and SIGHUP handled (the "started" log line). */
  readonly started: () => void;
  /** `--metrics-address`: a second, read-only listener (`/metrics`, `/healthz`, `/readyz`, no token). */
  readonly metricsAddress?: { readonly address: string; readonly port: number } | undefined;
  /** Anything else to close once stopped (file watchers). */
  readonly closing?: readonly { close(): void }[];
}

/**
 * Starts the admin listener, reloads on SIGHUP, and on the first SIGTERM/SIGINT stops the data
 * path, then the admin listener. Resolves with the exit code (0).
 */
export async function serveUntilStopped(options: ServeOptions): Promise<number> {
  const { log } = options;
  const admin = await startAdminOrLog(options.admin, options.source, log, {
    token: options.adminToken,
    version: options.version,
  });
  const metrics =
    options.metricsAddress === undefined
      ? undefined
      : await startAdminOrLog(options.metricsAddress, options.source, log, {
          version: options.version,
          readOnly: true,
        });
  process.on("SIGHUP", options.reload);
  options.started();
  return untilStopSignal(log, options.openConnections, async () => {
    try {
      await options.stopData();
    } finally {
      await admin?.close();
      await metrics?.close();
      process.off("SIGHUP", options.reload);
      for (const c of options.closing ?? []) c.close();
      log.info("stopped");
    }
  });
}
