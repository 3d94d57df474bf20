/** Validation of one `spec.listeners[]` entry of a native document (docs/configuration.md). */
import { isAbsolute, resolve } from "node:path";
import type { ListenerModel, PathType, Protocol, Rule, Timeouts, TlsCertificate } from "../../core/model.js";
import { DEFAULT_MAX_FLOWS } from "../../core/model.js";
import type { FieldPath } from "./config-error.js";
import { type ListenerEntry, nativeLocator } from "./entries.js";
import {
  boolean,
  duration,
  integer,
  ipAddress,
  isPresent,
  name,
  type Obj,
  oneOf,
  optional,
  port,
  type Reporter,
  readList,
  readMap,
  required,
  text,
} from "./fields.js";

const LISTENER_FIELDS = [
  "name",
  "protocol",
  "address",
  "port",
  "defaultPool",
  "rules",
  "tls",
  "proxyProtocol",
  "preserveClientIp",
  "timeouts",
  "accessLog",
  "maxFlows",
];
const RULE_FIELDS = ["host", "path", "pathType", "pool"];
const TLS_FIELDS = ["certFile", "keyFile"];
const TIMEOUT_FIELDS = ["idle", "client", "member", "connect"];

const DAY = 86_400_000;
const anyTimeout = duration(1, 7 * DAY);
/** A UDP flow shorter than a second would lapse between the datagrams of most exchanges. */
const udpIdle = duration(1_000, 7 * DAY);

export const DEFAULT_LISTEN_ADDRESS = "0.0.0.0";
/** HAProxy/ELB-like defaults: HTTP keep-alive idle 60 s, TCP/UDP idle 300 s (docs/reference/annotations.md). */
export function defaultTimeouts(protocol: Protocol): Timeouts {
  const l4 = protocol === "TCP" || protocol === "UDP";
  return { idleMs: l4 ? 300_000 : 60_000, clientMs: 60_000, memberMs: 60_000, connectMs: 5_000 };
}

const HOST_LABEL = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
const HOST = new RegExp(`^${HOST_LABEL}(\\.${HOST_LABEL})*$`);
/** Exact host names only (no `*.` wildcards); matched case-insensitively, so kept lower case. */
const host = text("a host name like www.example.com, without port or wildcard", (value) => {
  if (value.includes(":")) return "has a port (the port of the Host header is ignored when matching)";
  if (value.includes("*")) return "has a wildcard (only exact host names are matched)";
  return HOST.test(value.toLowerCase()) ? undefined : "is not a valid host name";
});
const rulePath = text("a path starting with /", (value) =>
  value.startsWith("/") && !/[\s?#]/.test(value) ? undefined : "is not a valid path",
);
const fileName = text("a file path", (value) => (value === "" ? "is empty" : undefined));
const poolRef = text("the name of a pool");

function readRules(
  r: Reporter,
  path: FieldPath,
  value: unknown,
): { rules: Rule[]; pools: (string | undefined)[] } {
  const list = readList(r, path, value, "{host, path, pathType, pool}") ?? [];
  const rules: Rule[] = [];
  const pools: (string | undefined)[] = [];
  list.forEach((item, i) => {
    const at = [...path, i];
    const obj = readMap(r, at, item, RULE_FIELDS);
    if (obj === undefined) {
      pools.push(undefined);
      return;
    }
    const ruleHost = optional(r, obj, at, "host", host)?.toLowerCase();
    const path_ = optional(r, obj, at, "path", rulePath);
    const pathType =
      optional(r, obj, at, "pathType", oneOf<PathType>(["Prefix", "Exact"]), "Prefix") ?? "Prefix";
    const pool = required(r, obj, at, "pool", poolRef);
    pools.push(pool);
    rules.push({
      ...(ruleHost === undefined ? {} : { host: ruleHost }),
      ...(path_ === undefined ? {} : { path: path_ }),
      pathType,
      pool: pool ?? "",
    });
  });
  return { rules, pools };
}

function readTls(
  r: Reporter,
  path: FieldPath,
  value: unknown,
  baseDir: string,
  checkReadable: (file: string) => string | undefined,
): TlsCertificate[] {
  const list = readList(r, path, value, "{certFile, keyFile}") ?? [];
  const certificates: TlsCertificate[] = [];
  list.forEach((item, i) => {
    const at = [...path, i];
    const obj = readMap(r, at, item, TLS_FIELDS);
    if (obj === undefined) return;
    const files = TLS_FIELDS.map((key) => {
      const given = required(r, obj, at, key, fileName);
      if (given === undefined) return "";
      // docs/configuration.md: relative to the folder of the YAML file that names them.
      const full = isAbsolute(given) ? given : resolve(baseDir, given);
      const problem = checkReadable(full);
      if (problem !== undefined)
        r.error(
          [...at, key],
          `${JSON.stringify(given)} cannot be read (${problem})`,
          "SLB_ERR_CONFIG_TLS_FILE",
        );
      return full;
    });
    certificates.push({ certFile: files[0] ?? "", keyFile: files[1] ?? "" });
  });
  return certificates;
}

function readTimeouts(r: Reporter, path: FieldPath, obj: Obj, protocol: Protocol | undefined): Timeouts {
  const defaults = defaultTimeouts(protocol ?? "TCP");
  if (!isPresent(obj, "timeouts")) return defaults;
  const at = [...path, "timeouts"];
  const t = readMap(r, at, obj.timeouts, TIMEOUT_FIELDS);
  if (t === undefined) return defaults;
  return {
    idleMs:
      optional(r, t, at, "idle", protocol === "UDP" ? udpIdle : anyTimeout, defaults.idleMs) ??
      defaults.idleMs,
    clientMs: optional(r, t, at, "client", anyTimeout, defaults.clientMs) ?? defaults.clientMs,
    memberMs: optional(r, t, at, "member", anyTimeout, defaults.memberMs) ?? defaults.memberMs,
    connectMs: optional(r, t, at, "connect", anyTimeout, defaults.connectMs) ?? defaults.connectMs,
  };
}

/** Validates `spec.listeners[index]`; returns undefined only when the entry is not a mapping. */
export function readListener(
  r: Reporter,
  path: FieldPath,
  value: unknown,
  baseDir: string,
  checkReadable: (file: string) => string | undefined,
): ListenerEntry | undefined {
  const obj = readMap(r, path, value, LISTENER_FIELDS);
  if (obj === undefined) return undefined;
  const listenerName = required(r, obj, path, "name", name);
  const protocol = required(r, obj, path, "protocol", oneOf<Protocol>(["TCP", "UDP", "HTTP", "HTTPS"]));
  const address = optional(r, obj, path, "address", ipAddress, DEFAULT_LISTEN_ADDRESS);
  const listenerPort = required(r, obj, path, "port", port);
  const defaultPool = optional(r, obj, path, "defaultPool", poolRef);
  const isHttp = protocol === "HTTP" || protocol === "HTTPS";
  const known = protocol !== undefined;

  let rules: Rule[] = [];
  let rulePools: (string | undefined)[] = [];
  if (isPresent(obj, "rules")) {
    if (known && !isHttp)
      r.error([...path, "rules"], `only HTTP and HTTPS listeners take rules (this listener is ${protocol})`);
    else ({ rules, pools: rulePools } = readRules(r, [...path, "rules"], obj.rules));
  }
  if (known && !isHttp && !isPresent(obj, "defaultPool"))
    r.error(
      [...path, "defaultPool"],
      `a required field is missing (${protocol} listeners need the name of a pool)`,
    );
  const noRules = !isPresent(obj, "rules") || (Array.isArray(obj.rules) && obj.rules.length === 0);
  if (isHttp && !isPresent(obj, "defaultPool") && noRules)
    r.error(
      [...path, "defaultPool"],
      `a required field is missing (${protocol} listeners need defaultPool or at least one rule)`,
    );

  let tls: TlsCertificate[] = [];
  if (protocol === "HTTPS") {
    if (!isPresent(obj, "tls"))
      r.error(
        [...path, "tls"],
        "a required field is missing (HTTPS listeners need a list of {certFile, keyFile})",
      );
    else if (Array.isArray(obj.tls) && obj.tls.length === 0)
      r.error([...path, "tls"], "[] is empty (HTTPS listeners need at least one {certFile, keyFile})");
    else tls = readTls(r, [...path, "tls"], obj.tls, baseDir, checkReadable);
  } else if (known && isPresent(obj, "tls")) {
    r.error([...path, "tls"], `only HTTPS listeners take tls (this listener is ${protocol})`);
  }

  const proxyProtocol = optional(r, obj, path, "proxyProtocol", boolean, false) ?? false;
  if (protocol === "UDP" && proxyProtocol)
    r.error(
      [...path, "proxyProtocol"],
      "true is not valid for UDP (PROXY protocol is read on TCP, HTTP and HTTPS listeners)",
    );

  const preserveClientIp = optional(r, obj, path, "preserveClientIp", boolean, false) ?? false;
  if (isHttp && isPresent(obj, "preserveClientIp"))
    r.error(
      [...path, "preserveClientIp"],
      `only TCP and UDP listeners take preserveClientIp (this listener is ${protocol})`,
    );

  let maxFlows = DEFAULT_MAX_FLOWS;
  if (isPresent(obj, "maxFlows")) {
    if (known && protocol !== "UDP")
      r.error([...path, "maxFlows"], `only UDP listeners take maxFlows (this listener is ${protocol})`);
    else maxFlows = optional(r, obj, path, "maxFlows", integer(1)) ?? DEFAULT_MAX_FLOWS;
  }

  const model: ListenerModel = {
    name: listenerName ?? "",
    protocol: protocol ?? "TCP",
    address: address ?? DEFAULT_LISTEN_ADDRESS,
    port: listenerPort ?? 0,
    ...(defaultPool === undefined ? {} : { defaultPool }),
    rules,
    tls,
    proxyProtocol,
    ...(preserveClientIp ? { preserveClientIp } : {}),
    timeouts: readTimeouts(r, path, obj, protocol),
    maxFlows,
    accessLog: optional(r, obj, path, "accessLog", boolean, false) ?? false,
    source: { file: r.file, object: r.object },
  };
  return {
    model,
    name: listenerName,
    protocol,
    address,
    port: listenerPort,
    defaultPool,
    rulePools,
    at: nativeLocator(r.file, () => r.object, r.lineOf, path),
  };
}
