import type { Logger } from "pino";
import type { AffinityResult } from "../affinity/resolver.js";

/** The message of every access log line; operators filter on it. */
export const ACCESS_LOG_MSG = "access";

/**
 * One access log line (listener `accessLog: true`): one per HTTP request, upgrade or TCP connection. It
 * never carries a cookie value or a query string (either may hold a secret); the client is its IP.
 */
export interface AccessEntry {
  readonly listener: string;
  readonly protocol: "TCP" | "HTTP" | "HTTPS";
  readonly client: string;
  readonly pool: string;
  /** `ADDRESS:PORT`, or null when no member served (404, 503, no eligible member). */
  readonly member: string | null;
  /** The member's name (native `name`, or the Pod's), or null when it has none or none served. */
  readonly memberName?: string | null;
  /** `hit`, `miss`, `expired`, `invalid`, `redispatch`, or `none` for a pool without persistence. */
  readonly affinity: AffinityResult | "none";
  /** HTTP status sent to the client. */
  readonly status?: number;
  readonly method?: string;
  /** Path without its query string. */
  readonly path?: string;
  readonly durationMs: number;
  readonly bytesIn?: number;
  readonly bytesOut?: number;
}

export function logAccess(log: Logger, entry: AccessEntry): void {
  log.info(entry, ACCESS_LOG_MSG);
}

/** The request target without its query string. */
export function pathForLog(url: string | undefined): string {
  if (url === undefined) return "";
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}
