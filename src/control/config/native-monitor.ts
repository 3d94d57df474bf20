/**
 * Validation of a pool's `healthMonitor` (docs/configuration.md, docs/health.md): the probe type,
 * its timings and retries, and for HTTP and HTTPS monitors the path and the expected status codes.
 */
import type { HealthMonitor, MonitorType } from "../../core/model.js";
import type { FieldPath } from "./config-error.js";
import {
  bad,
  duration,
  type FieldKind,
  integer,
  isPresent,
  ok,
  oneOf,
  optional,
  type Reporter,
  readMap,
  required,
  show,
  text,
} from "./fields.js";

const MONITOR_FIELDS = [
  "type",
  "delay",
  "timeout",
  "maxRetries",
  "maxRetriesDown",
  "urlPath",
  "expectedCodes",
];

const DAY = 86_400_000;
const retries = integer(1, 10);
/** A probe every millisecond is pointless but harmless; a week is the longest any timer here runs. */
const probeDuration = duration(1, 7 * DAY);

const urlPath = text("a path starting with /", (value) =>
  value.startsWith("/") && !/[\s#]/.test(value) ? undefined : "is not a valid URL path",
);

const CODES_DESCRIBE = 'status codes 100–599 written "200", "200,202" or "200-299"';
/** `"200"`, `"200,202"`, `"200-299"` (or a mix, or a bare integer) → inclusive ranges. */
export const expectedCodes: FieldKind<(readonly [number, number])[]> = {
  describe: CODES_DESCRIBE,
  check(value) {
    const textValue = typeof value === "number" && Number.isInteger(value) ? String(value) : value;
    const refuse = bad<(readonly [number, number])[]>(`${show(value)} is not valid (${CODES_DESCRIBE})`);
    if (typeof textValue !== "string") return refuse;
    const ranges: (readonly [number, number])[] = [];
    for (const part of textValue.split(",")) {
      const match = /^\s*(\d{3})(?:\s*-\s*(\d{3}))?\s*$/.exec(part);
      if (match === null) return refuse;
      const low = Number(match[1]);
      const high = match[2] === undefined ? low : Number(match[2]);
      if (low < 100 || high > 599 || low > high) return refuse;
      ranges.push([low, high]);
    }
    return ok(ranges);
  },
};

export function readMonitor(r: Reporter, path: FieldPath, value: unknown): HealthMonitor | undefined {
  const obj = readMap(r, path, value, MONITOR_FIELDS);
  if (obj === undefined) return undefined;
  const type = required(r, obj, path, "type", oneOf<MonitorType>(["TCP", "HTTP", "HTTPS", "UDP_CONNECT"]));
  const maxRetries = optional(r, obj, path, "maxRetries", retries, 3) ?? 3;
  const isHttp = type === "HTTP" || type === "HTTPS";
  for (const httpOnly of ["urlPath", "expectedCodes"]) {
    if (type !== undefined && !isHttp && isPresent(obj, httpOnly))
      r.error([...path, httpOnly], `only HTTP and HTTPS monitors take ${httpOnly} (this monitor is ${type})`);
  }
  return {
    type: type ?? "TCP",
    delayMs: optional(r, obj, path, "delay", probeDuration, 5_000) ?? 5_000,
    timeoutMs: optional(r, obj, path, "timeout", probeDuration, 3_000) ?? 3_000,
    maxRetries,
    maxRetriesDown: optional(r, obj, path, "maxRetriesDown", retries, maxRetries) ?? maxRetries,
    urlPath: (isHttp ? optional(r, obj, path, "urlPath", urlPath, "/") : undefined) ?? "/",
    expectedCodes: (isHttp ? optional(r, obj, path, "expectedCodes", expectedCodes) : undefined) ?? [
      [200, 200],
    ],
  };
}
