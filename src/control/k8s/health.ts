/**
 * Health check annotations of a Service (docs/reference/annotations.md) → one HealthMonitor per Service port.
 *
 * `health-check-flag` switches checks on or off (off unless an option annotation is present);
 * `health-check-options` gives per-port settings by `target_service_port` ("TCP:80"), and
 * `health-check-option` the settings of every other port.
 */
import type { HealthMonitor, MonitorType } from "../../core/model.js";
import {
  ANNOTATION,
  type Place,
  type RawAnnotation,
  rawAnnotation,
  readEnum,
  readInteger,
  readJson,
  readJsonObject,
  refuse,
  show,
} from "./annotations.js";
import { isObj, type Obj } from "./objects.js";
import type { ObjectReport } from "./report.js";

/** A Service port as the health check sees it. */
export interface CheckedPort {
  readonly index: number;
  readonly port: number;
  /** The Service port's own protocol. */
  readonly protocol: "TCP" | "UDP";
  /** What the members speak: HTTP when `protocol-port` makes the port HTTP or HTTPS. */
  readonly backend: "TCP" | "UDP" | "HTTP";
}

const OPTION_KEYS = ["delay", "timeout", "max_retries", "protocol", "path", "target_service_port"];
const OPTION_EXAMPLE =
  'an object like {"delay": "5", "timeout": "10", "max_retries": "3", "protocol": "TCP"}';
const OPTIONS_EXAMPLE =
  'a list like [{"target_service_port": "TCP:80", "protocol": "HTTP", "path": "/healthz"}]';

/** Defaults of docs/reference/annotations.md: delay 5 s, timeout 10 s, 3 retries, path `/`. */
const DEFAULTS = { delay: 5, timeout: 10, maxRetries: 3, path: "/" };

function monitorType(protocol: "TCP" | "UDP" | "HTTP"): MonitorType {
  return protocol === "UDP" ? "UDP_CONNECT" : protocol;
}

function readOption(at: Place, option: Obj, port: CheckedPort, label: string): HealthMonitor | undefined {
  const name = (key: string): string => `${label}${key}`;
  let ok = true;
  const int = (key: string, min: number, max: number, unit: string, fallback: number): number => {
    if (option[key] === undefined) return fallback;
    const value = readInteger(at, option[key], min, max, unit, name(key));
    if (value === undefined) ok = false;
    return value ?? fallback;
  };
  for (const key of Object.keys(option)) {
    if (!OPTION_KEYS.includes(key))
      at.report.warn(
        at.path,
        `${JSON.stringify(name(key))} is not a key stickylb reads (${OPTION_KEYS.join(", ")}); ignored`,
        "SLB_ERR_K8S_NO_EFFECT",
      );
  }
  const delay = int("delay", 1, 50, "seconds", DEFAULTS.delay);
  const timeout = int("timeout", 1, 50, "seconds", DEFAULTS.timeout);
  const maxRetries = int("max_retries", 1, 10, "", DEFAULTS.maxRetries);

  let protocol: "TCP" | "UDP" | "HTTP" = port.backend;
  if (option.protocol !== undefined) {
    const accepted = port.protocol === "UDP" ? ["UDP"] : ["TCP", "HTTP"];
    if (typeof option.protocol === "string" && accepted.includes(option.protocol)) {
      protocol = option.protocol as typeof protocol;
    } else {
      const all = ["TCP", "UDP", "HTTP"];
      refuse(
        at,
        typeof option.protocol === "string" && all.includes(option.protocol)
          ? `${name("protocol")} ${show(option.protocol)} does not fit ${port.protocol} port ${port.port} (accepted there: ${accepted.join(" or ")})`
          : `${name("protocol")} ${show(option.protocol)} is not valid (one of ${all.join(", ")})`,
      );
      ok = false;
    }
  }
  let urlPath = DEFAULTS.path;
  if (option.path !== undefined) {
    if (typeof option.path === "string" && option.path.startsWith("/") && !/[\s#]/.test(option.path)) {
      urlPath = option.path;
    } else {
      refuse(at, `${name("path")} ${show(option.path)} is not valid (a path starting with /)`);
      ok = false;
    }
  }
  if (!ok) return undefined;
  return {
    type: monitorType(protocol),
    delayMs: delay * 1000,
    timeoutMs: timeout * 1000,
    maxRetries,
    maxRetriesDown: maxRetries,
    urlPath: protocol === "HTTP" ? urlPath : "/",
    expectedCodes: [[200, 200]],
  };
}

interface PerPortOption {
  readonly option: Obj;
  readonly label: string;
}

function readPerPort(
  raw: RawAnnotation,
  ports: readonly CheckedPort[],
): Map<number, PerPortOption> | undefined {
  const parsed = readJson(raw, OPTIONS_EXAMPLE);
  if (parsed === undefined) return undefined;
  if (!Array.isArray(parsed))
    return refuse(raw.at, `${show(raw.value)} is not a JSON list (${OPTIONS_EXAMPLE})`);
  const byPort = new Map<number, PerPortOption>();
  let ok = true;
  parsed.forEach((entry, i) => {
    const label = `[${i}].`;
    if (!isObj(entry)) {
      refuse(raw.at, `${label.slice(0, -1)} is ${show(entry)}, not an object (${OPTIONS_EXAMPLE})`);
      ok = false;
      return;
    }
    const target = entry.target_service_port;
    const match = typeof target === "string" ? /^(TCP|UDP):(\d+)$/.exec(target) : null;
    if (match === null) {
      refuse(
        raw.at,
        target === undefined
          ? `${label}target_service_port is missing (PROTOCOL:PORT of a Service port, like "TCP:80")`
          : `${label}target_service_port ${show(target)} is not valid (PROTOCOL:PORT of a Service port, like "TCP:80")`,
      );
      ok = false;
      return;
    }
    const port = ports.find((p) => p.protocol === match[1] && p.port === Number(match[2]));
    if (port === undefined) {
      const known = ports.map((p) => `${p.protocol}:${p.port}`).join(", ");
      refuse(raw.at, `${label}target_service_port ${show(target)} is not a port of this Service (${known})`);
      ok = false;
      return;
    }
    byPort.set(port.index, { option: entry, label });
  });
  return ok ? byPort : undefined;
}

/**
 * The monitor of each Service port (by index), or undefined for none. `ok` is false when a
 * problem was reported.
 */
export function readHealth(
  report: ObjectReport,
  ports: readonly CheckedPort[],
): { monitors: Map<number, HealthMonitor>; ok: boolean } {
  const monitors = new Map<number, HealthMonitor>();
  const flag = rawAnnotation(report, ANNOTATION.healthCheckFlag);
  const single = rawAnnotation(report, ANNOTATION.healthCheckOption);
  const multi = rawAnnotation(report, ANNOTATION.healthCheckOptions);
  let ok = true;
  const enabled =
    flag === undefined ? single !== undefined || multi !== undefined : readEnum(flag, ["on", "off"]);
  if (enabled === undefined) return { monitors, ok: false };
  if (enabled === false || enabled === "off") {
    for (const raw of [single, multi])
      if (raw !== undefined)
        report.warn(
          raw.at.path,
          `has no effect while ${ANNOTATION.healthCheckFlag} is "off"; ignored`,
          "SLB_ERR_K8S_NO_EFFECT",
        );
    return { monitors, ok: true };
  }
  const option = single === undefined ? {} : readJsonObject(single, OPTION_EXAMPLE);
  if (option === undefined) ok = false;
  const perPort = multi === undefined ? new Map<number, PerPortOption>() : readPerPort(multi, ports);
  if (perPort === undefined) ok = false;
  for (const port of ports) {
    const specific = perPort?.get(port.index);
    const at =
      specific !== undefined && multi !== undefined ? multi.at : (single?.at ?? { report, path: [] });
    const monitor = readOption(at, specific?.option ?? option ?? {}, port, specific?.label ?? "");
    if (monitor === undefined) ok = false;
    else monitors.set(port.index, monitor);
  }
  return { monitors, ok };
}
