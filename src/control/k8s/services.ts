/**
 * A Service of `type: LoadBalancer` → one listener and one pool per `spec.ports` entry
 * (docs/reference/annotations.md), named `NAMESPACE.SERVICE.PORT`. The port's protocol is TCP or UDP, or HTTP/HTTPS
 * through `kubernetes.io/elb.protocol-port`.
 */
import type {
  Algorithm,
  HealthMonitor,
  ListenerModel,
  PoolModel,
  Protocol,
  SessionPersistence,
} from "../../core/model.js";
import { DEFAULT_MAX_FLOWS } from "../../core/model.js";
import type { FieldPath, Origin } from "../config/index.js";
import { formatPath } from "../config/index.js";
import { type AffinitySource, readAffinity, resolvePersistence } from "./affinity.js";
import {
  ANNOTATION,
  checkAnnotationNames,
  type Place,
  rawAnnotation,
  readEnum,
  refuse,
  show,
} from "./annotations.js";
import { readClientIpAffinity } from "./client-ip-affinity.js";
import type { ClusterIndex } from "./cluster-index.js";
import { membersOf } from "./endpoints.js";
import { type CheckedPort, readHealth } from "./health.js";
import { stableName } from "./names.js";
import { asList, asObj, isObj, type KubeObject, nameOf, namespaceOf } from "./objects.js";
import { ObjectReport } from "./report.js";
import type { ConverterOptions, ObjectResult } from "./result.js";
import { readTimeoutAnnotations, timeoutsFor } from "./timeouts.js";
import { certificateFromSecret } from "./tls-secrets.js";

/** Where an HTTPS port of a Service finds its certificates (CCE's `elb.cert-id` names cloud-held ones). */
export const TLS_SECRET_ANNOTATION = "stickylb.io/tls-secret";

export const ALGORITHMS: readonly Algorithm[] = ["ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP"];

/** A `spec.ports` entry that was readable. */
export interface ServicePort {
  readonly index: number;
  readonly name: string;
  readonly port: number;
  readonly protocol: "TCP" | "UDP";
}

export const isLoadBalancer = (service: KubeObject): boolean =>
  asObj(service.doc.spec).type === "LoadBalancer";

/** The readable ports of a Service; problems are reported when `report` is given. */
export function servicePorts(service: KubeObject, report?: ObjectReport): ServicePort[] {
  const ports: ServicePort[] = [];
  asList(asObj(service.doc.spec).ports).forEach((entry, index) => {
    const path: FieldPath = ["spec", "ports", index];
    if (!isObj(entry)) {
      report?.error(path, `${show(entry)} is not a port (an object with port and protocol)`);
      return;
    }
    const port = entry.port;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      report?.error([...path, "port"], `${show(port)} is not valid (an integer 1–65535)`);
      return;
    }
    const protocol = entry.protocol ?? "TCP";
    if (protocol !== "TCP" && protocol !== "UDP") {
      report?.error([...path, "protocol"], `${show(protocol)} is not supported (TCP or UDP)`);
      return;
    }
    ports.push({ index, name: typeof entry.name === "string" ? entry.name : "", port, protocol });
  });
  return ports;
}

/** The algorithm of a Service's pools (also of the Ingress pools that use it). */
export function readAlgorithm(report: ObjectReport): { algorithm: Algorithm; at?: Place; ok: boolean } {
  const raw = rawAnnotation(report, ANNOTATION.lbAlgorithm);
  if (raw === undefined) return { algorithm: "ROUND_ROBIN", ok: true };
  const algorithm = readEnum(raw, ALGORITHMS);
  return { algorithm: algorithm ?? "ROUND_ROBIN", at: raw.at, ok: algorithm !== undefined };
}

/** `"https:443,http:80"` → port → HTTP or HTTPS; ports not named stay TCP/UDP. */
function readProtocolPort(
  report: ObjectReport,
  ports: readonly ServicePort[],
): Map<number, "HTTP" | "HTTPS"> | undefined {
  const raw = rawAnnotation(report, ANNOTATION.protocolPort);
  const out = new Map<number, "HTTP" | "HTTPS">();
  if (raw === undefined) return out;
  const accepted =
    'a comma-separated list of PROTOCOL:PORT with PROTOCOL http or https, like "https:443,http:80"';
  let ok = true;
  for (const part of raw.value.split(",").map((p) => p.trim())) {
    const match = /^(https?):(\d+)$/i.exec(part);
    if (match === null) {
      refuse(raw.at, `${show(part)} is not valid (${accepted})`);
      ok = false;
      continue;
    }
    const number = Number(match[2]);
    const port = ports.find((p) => p.port === number && p.protocol === "TCP");
    if (port === undefined) {
      const known = ports.filter((p) => p.protocol === "TCP").map((p) => p.port);
      refuse(
        raw.at,
        `${show(part)}: ${number} is not a TCP port of this Service (TCP ports: ${known.join(", ") || "none"})`,
      );
      ok = false;
      continue;
    }
    out.set(number, match[1]!.toUpperCase() as "HTTP" | "HTTPS");
  }
  return ok ? out : undefined;
}

/** Pool and listener name of a Service port; the protocol joins the name only when TCP and UDP share the number. */
export function servicePortName(
  namespace: string,
  service: string,
  port: ServicePort,
  all: readonly ServicePort[],
): string {
  const shared = all.filter((p) => p.port === port.port).length > 1;
  return stableName(namespace, service, shared ? `${port.port}-${port.protocol.toLowerCase()}` : port.port);
}

export function convertService(
  service: KubeObject,
  index: ClusterIndex,
  options: ConverterOptions,
): ObjectResult {
  const report = new ObjectReport(service);
  const namespace = namespaceOf(service);
  const name = nameOf(service) ?? "";
  if (nameOf(service) === undefined)
    report.error(["metadata", "name"], "a required field is missing (the Service's name)");
  checkAnnotationNames("Service", report);
  const ports = servicePorts(service, report);
  if (ports.length === 0 && asList(asObj(service.doc.spec).ports).length === 0)
    report.error(["spec", "ports"], "a LoadBalancer Service needs at least one port");
  const protocols = readProtocolPort(report, ports) ?? new Map<number, "HTTP" | "HTTPS">();
  const { algorithm, at: algorithmAt } = readAlgorithm(report);
  const affinity: AffinitySource = readAffinity(report);
  const clientIp = readClientIpAffinity(report, affinity, algorithm);
  const listenerProtocol = (p: ServicePort): Protocol =>
    p.protocol === "TCP" ? (protocols.get(p.port) ?? "TCP") : "UDP";
  const checked: CheckedPort[] = ports.map((p) => ({
    index: p.index,
    port: p.port,
    protocol: p.protocol,
    backend: listenerProtocol(p) === "UDP" ? "UDP" : listenerProtocol(p) === "TCP" ? "TCP" : "HTTP",
  }));
  const { monitors } = readHealth(report, checked);
  const timeouts = readTimeoutAnnotations(
    report,
    ports.some((p) => listenerProtocol(p).startsWith("HTTP")),
  );
  const tls = ports.some((p) => listenerProtocol(p) === "HTTPS")
    ? readServiceTls(report, index, namespace)
    : [];

  const source = { file: service.file, object: report.key };
  const listeners: ListenerModel[] = [];
  const pools: PoolModel[] = [];
  const origins = new Map<ListenerModel | PoolModel, Origin>();
  for (const port of ports) {
    const protocol = listenerProtocol(port);
    const portName = servicePortName(namespace, name, port, ports);
    const persistence: SessionPersistence | undefined =
      clientIp ??
      resolvePersistence(affinity, {
        layer: protocol === "TCP" || protocol === "UDP" ? "L4" : "L7",
        describe: `${protocol} port ${port.port}`,
        algorithm,
        ...(algorithmAt === undefined ? {} : { algorithmAt }),
      });
    const monitor: HealthMonitor | undefined = monitors.get(port.index);
    const pool: PoolModel = {
      name: portName,
      algorithm,
      ...(persistence === undefined ? {} : { sessionPersistence: persistence }),
      ...(monitor === undefined ? {} : { healthMonitor: monitor }),
      members: membersOf(index, namespace, name, { name: port.name, only: ports.length === 1 }),
      source,
    };
    const listener: ListenerModel = {
      name: portName,
      protocol,
      address: options.listenAddress,
      port: port.port,
      defaultPool: portName,
      rules: [],
      tls: protocol === "HTTPS" ? tls : [],
      proxyProtocol: false,
      timeouts: timeoutsFor(protocol, timeouts),
      maxFlows: DEFAULT_MAX_FLOWS,
      accessLog: false,
      source,
    };
    const path: FieldPath = ["spec", "ports", port.index, "port"];
    const origin: Origin = { ...source, path: formatPath(path), ...service.lineOf(path) };
    origins.set(listener, origin).set(pool, origin);
    listeners.push(listener);
    pools.push(pool);
  }
  return {
    key: report.key,
    kind: "Service",
    namespace,
    name,
    listeners,
    pools,
    errors: report.errors,
    warnings: report.warnings,
    origins,
  };
}

function readServiceTls(report: ObjectReport, index: ClusterIndex, namespace: string) {
  const raw = rawAnnotation(report, TLS_SECRET_ANNOTATION);
  if (raw === undefined) {
    report.error(
      ["metadata", "annotations", ANNOTATION.protocolPort],
      `an https port needs certificates: name kubernetes.io/tls Secrets in ${TLS_SECRET_ANNOTATION} ` +
        "(ELB certificates named by kubernetes.io/elb.cert-id are held by the cloud and cannot be read here)",
    );
    return [];
  }
  return raw.value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .flatMap((secret) => certificateFromSecret(index, namespace, secret, raw.at) ?? []);
}
