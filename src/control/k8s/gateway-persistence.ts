/**
 * Gateway API `sessionPersistence` (on an HTTPRoute rule or a BackendLBPolicy) → the model's
 * SessionPersistence: `Cookie` → HTTP_COOKIE named `sessionName`, `Header` → HTTP_HEADER,
 * `idleTimeout` → persistenceTimeout, `absoluteTimeout` → absoluteTimeout, and
 * `cookieConfig.lifetimeType: Session` → a cookie without Max-Age (docs/gateway-api.md).
 */
import type { SessionPersistence } from "../../core/model.js";
import { DEFAULT_HTTP_COOKIE_NAME, DEFAULT_MAX_BINDINGS } from "../../core/model.js";
import { DEFAULT_COOKIE, DEFAULT_PERSISTENCE_TIMEOUT_MS, type FieldPath } from "../config/index.js";
import { show } from "./annotations.js";
import { asObj, isObj } from "./objects.js";
import type { ObjectReport } from "./report.js";

/** The Gateway API duration format (GEP-2257): up to four `<number><unit>` parts, units h, m, s, ms. */
const GATEWAY_DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
/** The model's bounds of persistenceTimeout: 1 s to 7 days. */
const MIN_MS = 1_000;
const MAX_MS = 7 * 86_400_000;
/** An HTTP field name (RFC 9110 token); cookie names follow the same rule here. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,255}$/;

export function parseGatewayDuration(text: string): number | undefined {
  if (!GATEWAY_DURATION.test(text)) return undefined;
  let total = 0;
  for (const part of text.matchAll(/([0-9]+)(ms|h|m|s)/g)) total += Number(part[1]) * UNIT_MS[part[2]!]!;
  return total;
}

function readDuration(report: ObjectReport, value: unknown, path: FieldPath): number | undefined | null {
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === "string" ? parseGatewayDuration(value) : undefined;
  if (ms === undefined) {
    report.error(path, `${show(value)} is not valid (a Gateway API duration like "30m", "1h30m", "10s")`);
    return null;
  }
  if (ms < MIN_MS || ms > MAX_MS) {
    report.error(path, `${show(value)} is out of range (1s to 168h)`);
    return null;
  }
  return ms;
}

/** Undefined when `value` is absent or when a problem was reported at `path`. */
export function readGatewayPersistence(
  report: ObjectReport,
  value: unknown,
  path: FieldPath,
): SessionPersistence | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObj(value)) {
    report.error(path, `${show(value)} is not valid (an object with type, sessionName, idleTimeout…)`);
    return undefined;
  }
  const type = value.type ?? "Cookie";
  if (type !== "Cookie" && type !== "Header") {
    report.error([...path, "type"], `${show(type)} is not valid (Cookie or Header)`);
    return undefined;
  }
  const name = value.sessionName ?? DEFAULT_HTTP_COOKIE_NAME;
  const nameOk = typeof name === "string" && TOKEN.test(name);
  // Every field is read before giving up, so that one pass reports every problem.
  if (!nameOk)
    report.error(
      [...path, "sessionName"],
      `${show(name)} is not valid (a ${type === "Cookie" ? "cookie" : "header"} name of 1–255 letters, digits and !#$%&'*+-.^_\`|~)`,
    );
  const idle = readDuration(report, value.idleTimeout, [...path, "idleTimeout"]);
  const absolute = readDuration(report, value.absoluteTimeout, [...path, "absoluteTimeout"]);
  if (!nameOk || typeof name !== "string" || idle === null || absolute === null) return undefined;
  // Without idleTimeout a binding lapses after a day idle (stickylb's cookie default), never past the absolute timeout.
  const fallback = DEFAULT_PERSISTENCE_TIMEOUT_MS.HTTP_COOKIE;
  const idleMs = idle ?? Math.min(fallback, absolute ?? fallback);
  if (absolute !== undefined && absolute < idleMs) {
    report.error(
      [...path, "absoluteTimeout"],
      `${show(value.absoluteTimeout)} is shorter than idleTimeout ${show(value.idleTimeout)} (at least the idle timeout)`,
    );
    return undefined;
  }
  const cookieConfig = asObj(value.cookieConfig);
  const lifetime = cookieConfig.lifetimeType;
  if (lifetime !== undefined && lifetime !== "Permanent" && lifetime !== "Session") {
    report.error(
      [...path, "cookieConfig", "lifetimeType"],
      `${show(lifetime)} is not valid (Permanent or Session)`,
    );
    return undefined;
  }
  if (type === "Header" && value.cookieConfig !== undefined)
    report.warn(
      [...path, "cookieConfig"],
      "has no effect with type Header; ignored",
      "SLB_ERR_K8S_NO_EFFECT",
    );
  const common = {
    persistenceTimeoutMs: idleMs,
    ...(absolute === undefined ? {} : { absoluteTimeoutMs: absolute }),
    maxBindings: DEFAULT_MAX_BINDINGS,
  };
  if (type === "Header")
    return { type: "HTTP_HEADER", headerName: name, cookieName: "", cookie: DEFAULT_COOKIE, ...common };
  return {
    type: "HTTP_COOKIE",
    cookieName: name,
    cookie: lifetime === "Session" ? { ...DEFAULT_COOKIE, maxAge: "session" } : DEFAULT_COOKIE,
    ...common,
  };
}
