/**
 * An Ingress of our class → its share of an HTTP listener on `kubernetes.io/elb.port` (default
 * 80), or of an HTTPS listener (default 443) when `spec.tls` is set, and one pool per backend
 * Service port, named `NAMESPACE.INGRESS.SERVICE.PORT` (docs/reference/annotations.md).
 *
 * A backend pool takes the Service's algorithm and health checks, and the Ingress's affinity
 * annotations overridden field by field by the Service's (docs/reference/annotations.md); without CCE affinity on
 * either, ingress-nginx's cookie affinity annotations of the Ingress (nginx-affinity.ts).
 */
import type { PathType, PoolModel, Rule, SessionPersistence, TlsCertificate } from "../../core/model.js";
import type { FieldPath, Origin } from "../config/index.js";
import { formatPath } from "../config/index.js";
import {
  type AffinitySource,
  overlay,
  type PoolFacts,
  readAffinity,
  resolvePersistence,
} from "./affinity.js";
import { ANNOTATION, checkAnnotationNames, rawAnnotation, readInteger, refuse, show } from "./annotations.js";
import type { ClusterIndex } from "./cluster-index.js";
import { membersOf } from "./endpoints.js";
import { readHealth } from "./health.js";
import { stableName } from "./names.js";
import { checkNginxAnnotationNames, type NginxAffinity, readNginxAffinity } from "./nginx-affinity.js";
import { asList, asObj, isObj, type KubeObject, nameOf, namespaceOf } from "./objects.js";
import { ObjectReport } from "./report.js";
import type { IngressPart, ObjectResult } from "./result.js";
import { readAlgorithm, servicePorts } from "./services.js";
import { readTimeoutAnnotations, timeoutsFor } from "./timeouts.js";
import { certificateFromSecret } from "./tls-secrets.js";

const HOST_LABEL = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
const HOST = new RegExp(`^${HOST_LABEL}(\\.${HOST_LABEL})*$`);

interface Context {
  readonly report: ObjectReport;
  readonly index: ClusterIndex;
  readonly namespace: string;
  readonly name: string;
  readonly affinity: AffinitySource;
  readonly nginx: NginxAffinity | undefined;
  readonly pools: Map<string, PoolModel>;
  readonly origins: Map<PoolModel, Origin>;
}

/** The pool of one `backend`; undefined when it was refused. */
function backendPool(ctx: Context, backend: unknown, path: FieldPath): string | undefined {
  const { report } = ctx;
  const service = asObj(asObj(backend).service);
  if (isObj(asObj(backend).resource)) {
    report.error([...path, "resource"], "resource backends are not supported (a service backend)");
    return undefined;
  }
  const serviceName = service.name;
  const portRef = asObj(service.port);
  const portLabel = portRef.number ?? portRef.name;
  if (typeof serviceName !== "string" || serviceName === "") {
    report.error([...path, "service", "name"], `${show(serviceName)} is not valid (the name of a Service)`);
    return undefined;
  }
  if (typeof portLabel !== "number" && typeof portLabel !== "string") {
    report.error([...path, "service", "port"], "a required field is missing (port.number or port.name)");
    return undefined;
  }
  const target = ctx.index.get("Service", ctx.namespace, serviceName);
  const targetPorts = target === undefined ? [] : servicePorts(target);
  const port = targetPorts.find((p) =>
    typeof portLabel === "number" ? p.port === portLabel && p.protocol === "TCP" : p.name === portLabel,
  );
  // Named by the Service port's number when it resolves, so `name: http` and `number: 80` share a pool.
  const poolName = stableName(ctx.namespace, ctx.name, serviceName, port?.port ?? portLabel);
  if (ctx.pools.has(poolName)) return poolName;

  let members: PoolModel["members"] = [];
  let algorithm: PoolModel["algorithm"] = "ROUND_ROBIN";
  let affinity = ctx.affinity;
  let healthMonitor: PoolModel["healthMonitor"];
  const describe = `the backend ${serviceName}:${portLabel} of this Ingress`;
  if (target === undefined) {
    // As other ingress controllers do, a backend that is not there (yet) answers 503.
    report.warn(
      [...path, "service", "name"],
      `Service ${ctx.namespace}/${serviceName} does not exist; the backend has no members (503)`,
      "SLB_ERR_K8S_REFERENCE",
    );
  } else {
    const about = report.about(target);
    algorithm = readAlgorithm(about).algorithm;
    affinity = overlay(ctx.affinity, readAffinity(about));
    if (port === undefined) {
      const known = targetPorts.map((p) => (p.name === "" ? String(p.port) : `${p.port} (${p.name})`));
      report.warn(
        [...path, "service", "port"],
        `${show(portLabel)} is not a port of Service ${ctx.namespace}/${serviceName} (ports: ${known.join(", ") || "none"}); the backend has no members (503)`,
        "SLB_ERR_K8S_REFERENCE",
      );
    } else {
      members = membersOf(ctx.index, ctx.namespace, serviceName, {
        name: port.name,
        only: targetPorts.length === 1,
      });
      healthMonitor = readHealth(about, [
        { index: port.index, port: port.port, protocol: port.protocol, backend: "TCP" },
      ]).monitors.get(port.index);
    }
  }
  const persistence = backendPersistence(ctx, affinity, { layer: "L7", describe, algorithm });
  const pool: PoolModel = {
    name: poolName,
    algorithm,
    ...(persistence === undefined ? {} : { sessionPersistence: persistence }),
    ...(healthMonitor === undefined ? {} : { healthMonitor }),
    members,
    source: { file: report.object.file, object: report.key },
  };
  ctx.pools.set(poolName, pool);
  ctx.origins.set(pool, { ...pool.source, path: formatPath(path), ...report.object.lineOf(path) });
  return poolName;
}

/** CCE annotations win over ingress-nginx's where both give the affinity of a backend. */
function backendPersistence(
  ctx: Context,
  affinity: AffinitySource,
  facts: PoolFacts,
): SessionPersistence | undefined {
  const nginx = ctx.nginx;
  if (nginx === undefined || affinity.modeAt !== undefined) {
    if (nginx !== undefined && affinity.modeAt !== undefined)
      nginx.at.report.warn(
        nginx.at.path,
        `${ANNOTATION.affinityMode} (on ${affinity.modeAt.report.key}) also sets the affinity of ${facts.describe} and wins; ignored there`,
        "SLB_ERR_K8S_NO_EFFECT",
      );
    return resolvePersistence(affinity, facts);
  }
  if (facts.algorithm === "SOURCE_IP") {
    refuse(
      nginx.at,
      `cookie affinity is not allowed for ${facts.describe}: its Service has ${ANNOTATION.lbAlgorithm} "SOURCE_IP" (the hash already keeps each client on its member); use ROUND_ROBIN or LEAST_CONNECTIONS, or remove the affinity`,
    );
    return undefined;
  }
  return nginx.persistence;
}

function readHost(report: ObjectReport, value: unknown, path: FieldPath): string | undefined | null {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "string" && value.includes("*")) {
    report.error(path, `${show(value)} has a wildcard (stickylb matches exact host names only)`);
    return null;
  }
  if (typeof value !== "string" || !HOST.test(value.toLowerCase())) {
    report.error(path, `${show(value)} is not a valid host name (like www.example.com)`);
    return null;
  }
  return value.toLowerCase();
}

function readPathType(report: ObjectReport, value: unknown, path: FieldPath): PathType | undefined {
  if (value === undefined || value === "Prefix" || value === "ImplementationSpecific") return "Prefix";
  if (value === "Exact") return "Exact";
  report.error(path, `${show(value)} is not valid (one of Prefix, Exact, ImplementationSpecific)`);
  return undefined;
}

function readRules(ctx: Context): Rule[] {
  const rules: Rule[] = [];
  asList(asObj(ctx.report.object.doc.spec).rules).forEach((entry, i) => {
    const at: FieldPath = ["spec", "rules", i];
    const rule = asObj(entry);
    const host = readHost(ctx.report, rule.host, [...at, "host"]);
    asList(asObj(rule.http).paths).forEach((item, j) => {
      const pathAt: FieldPath = [...at, "http", "paths", j];
      const entryPath = asObj(item);
      const pathType = readPathType(ctx.report, entryPath.pathType, [...pathAt, "pathType"]);
      let path: string | undefined;
      if (entryPath.path !== undefined && entryPath.path !== null) {
        if (
          typeof entryPath.path === "string" &&
          entryPath.path.startsWith("/") &&
          !/[\s?#]/.test(entryPath.path)
        )
          path = entryPath.path;
        else {
          ctx.report.error(
            [...pathAt, "path"],
            `${show(entryPath.path)} is not valid (a path starting with /)`,
          );
          return;
        }
      }
      const pool = backendPool(ctx, entryPath.backend, [...pathAt, "backend"]);
      if (pool === undefined || pathType === undefined || host === null) return;
      rules.push({
        ...(host === undefined ? {} : { host }),
        ...(path === undefined ? {} : { path }),
        pathType,
        pool,
      });
    });
  });
  return rules;
}

function readTls(ctx: Context): TlsCertificate[] {
  const certificates: TlsCertificate[] = [];
  asList(asObj(ctx.report.object.doc.spec).tls).forEach((entry, i) => {
    const secretName = asObj(entry).secretName;
    const at: FieldPath = ["spec", "tls", i, "secretName"];
    if (typeof secretName !== "string" || secretName === "") {
      ctx.report.error(at, "a required field is missing (the name of a kubernetes.io/tls Secret)");
      return;
    }
    const certificate = certificateFromSecret(ctx.index, ctx.namespace, secretName, {
      report: ctx.report,
      path: at,
    });
    if (certificate !== undefined) certificates.push(certificate);
  });
  return certificates;
}

export function convertIngress(ingress: KubeObject, index: ClusterIndex): ObjectResult {
  const report = new ObjectReport(ingress);
  const namespace = namespaceOf(ingress);
  const name = nameOf(ingress) ?? "";
  if (nameOf(ingress) === undefined)
    report.error(["metadata", "name"], "a required field is missing (the Ingress's name)");
  checkAnnotationNames("Ingress", report);
  checkNginxAnnotationNames(report);
  const spec = asObj(ingress.doc.spec);
  const https = asList(spec.tls).length > 0;
  const protocol = https ? "HTTPS" : "HTTP";
  const rawPort = rawAnnotation(report, ANNOTATION.port);
  const port =
    (rawPort === undefined ? undefined : readInteger(rawPort.at, rawPort.value, 1, 65535, "")) ??
    (https ? 443 : 80);
  const portPath: FieldPath = rawPort === undefined ? [] : rawPort.at.path;
  const timeouts = timeoutsFor(protocol, readTimeoutAnnotations(report, true));
  const ctx: Context = {
    report,
    index,
    namespace,
    name,
    affinity: readAffinity(report),
    nginx: readNginxAffinity(report),
    pools: new Map(),
    origins: new Map(),
  };
  const rules = readRules(ctx);
  const defaultPool =
    spec.defaultBackend === undefined
      ? undefined
      : backendPool(ctx, spec.defaultBackend, ["spec", "defaultBackend"]);
  const tls = https ? readTls(ctx) : [];
  if (rules.length === 0 && defaultPool === undefined && report.errors.length === 0)
    report.warn(["spec"], "has no rules and no defaultBackend; it routes nothing");
  const part: IngressPart = {
    protocol,
    port,
    rules,
    ...(defaultPool === undefined ? {} : { defaultPool }),
    tls,
    timeouts,
    portAt: {
      file: ingress.file,
      object: report.key,
      path: formatPath(portPath),
      ...ingress.lineOf(portPath),
    },
  };
  return {
    key: report.key,
    kind: "Ingress",
    namespace,
    name,
    listeners: [],
    ingress: part,
    pools: [...ctx.pools.values()],
    errors: report.errors,
    warnings: report.warnings,
    origins: ctx.origins,
  };
}
