/**
 * An HTTPRoute read once, whatever Gateway it attaches to: its hostnames, and per rule the path
 * matches, the Service backends (with their members and weights) and the session persistence
 * (the rule's, else a BackendLBPolicy's for one of its Services). Features stickylb does not
 * implement are refused rather than ignored: a route whose header match were dropped would send
 * traffic where its author never meant it to go.
 */
import type { MemberModel, PathType, SessionPersistence } from "../../core/model.js";
import type { FieldPath } from "../config/index.js";
import { show } from "./annotations.js";
import type { ClusterIndex } from "./cluster-index.js";
import { membersOf } from "./endpoints.js";
import { readGatewayPersistence } from "./gateway-persistence.js";
import { asList, asObj, isObj, type KubeObject, nameOf, namespaceOf } from "./objects.js";
import { ObjectReport } from "./report.js";
import { servicePorts } from "./services.js";

const HOST_LABEL = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
/** A host name, or a wildcard `*.example.com` (allowed on listeners and routes by the Gateway API). */
export const GATEWAY_HOST = new RegExp(`^(\\*\\.)?${HOST_LABEL}(\\.${HOST_LABEL})*$`);

export interface RouteMatch {
  readonly path?: string;
  readonly pathType: PathType;
}

export interface RouteBackend {
  readonly service: string;
  readonly port: number;
  /** backendRef weight (0–1,000,000; default 1). */
  readonly weight: number;
  readonly members: readonly MemberModel[];
}

export interface RouteRule {
  readonly index: number;
  readonly matches: readonly RouteMatch[];
  readonly backends: readonly RouteBackend[];
  readonly persistence?: SessionPersistence;
}

/** Why references of a route did not resolve (the `ResolvedRefs` condition of its parents). */
export interface RefProblem {
  readonly reason: "BackendNotFound" | "RefNotPermitted" | "InvalidKind";
  readonly message: string;
}

export interface ParsedRoute {
  readonly object: KubeObject;
  readonly report: ObjectReport;
  readonly namespace: string;
  readonly name: string;
  /** Lower case; empty means any host. */
  readonly hostnames: readonly string[];
  readonly rules: readonly RouteRule[];
  readonly refProblems: readonly RefProblem[];
}

const UNSUPPORTED_MATCH_FIELDS = ["headers", "queryParams", "method"] as const;

function readMatch(report: ObjectReport, value: unknown, path: FieldPath): RouteMatch | undefined {
  const match = asObj(value);
  for (const field of UNSUPPORTED_MATCH_FIELDS)
    if (match[field] !== undefined)
      report.error(
        [...path, field],
        `${field} matches are not supported (stickylb matches hostnames and paths)`,
      );
  const pathMatch = asObj(match.path);
  const type = pathMatch.type ?? "PathPrefix";
  const value_ = pathMatch.value ?? "/";
  if (type !== "PathPrefix" && type !== "Exact") {
    report.error(
      [...path, "path", "type"],
      `${show(type)} is not supported (PathPrefix or Exact; RegularExpression is not implemented)`,
    );
    return undefined;
  }
  if (typeof value_ !== "string" || !value_.startsWith("/") || /[\s?#]/.test(value_)) {
    report.error([...path, "path", "value"], `${show(value_)} is not valid (a path starting with /)`);
    return undefined;
  }
  if (UNSUPPORTED_MATCH_FIELDS.some((f) => match[f] !== undefined)) return undefined;
  // PathPrefix "/" matches everything, which the model says by leaving the path out.
  if (type === "PathPrefix" && value_ === "/") return { pathType: "Prefix" };
  return { path: value_, pathType: type === "Exact" ? "Exact" : "Prefix" };
}

function readBackends(
  report: ObjectReport,
  index: ClusterIndex,
  namespace: string,
  value: unknown,
  path: FieldPath,
  refProblems: RefProblem[],
): RouteBackend[] {
  const backends: RouteBackend[] = [];
  asList(value).forEach((entry, i) => {
    const at: FieldPath = [...path, i];
    const ref = asObj(entry);
    if (ref.filters !== undefined) report.error([...at, "filters"], "backendRef filters are not supported");
    const group = ref.group ?? "";
    const kind = ref.kind ?? "Service";
    if (group !== "" || kind !== "Service") {
      const message = `${show(kind)} backends are not supported (a Service of the core group)`;
      report.warn([...at, "kind"], `${message}; this backend is left out`, "SLB_ERR_K8S_REFERENCE");
      refProblems.push({ reason: "InvalidKind", message });
      return;
    }
    const name = ref.name;
    if (typeof name !== "string" || name === "") {
      report.error([...at, "name"], `${show(name)} is not valid (the name of a Service)`);
      return;
    }
    const refNamespace = ref.namespace ?? namespace;
    if (refNamespace !== namespace) {
      // Without ReferenceGrant support, a backend in another namespace is never permitted.
      const message = `Service ${String(refNamespace)}/${name} is in another namespace (ReferenceGrant is not supported)`;
      report.warn([...at, "namespace"], `${message}; this backend is left out`, "SLB_ERR_K8S_REFERENCE");
      refProblems.push({ reason: "RefNotPermitted", message });
      return;
    }
    const port = ref.port;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      report.error([...at, "port"], `${show(port)} is not valid (the Service port, an integer 1–65535)`);
      return;
    }
    const weight = ref.weight ?? 1;
    if (typeof weight !== "number" || !Number.isInteger(weight) || weight < 0 || weight > 1_000_000) {
      report.error([...at, "weight"], `${show(weight)} is not valid (an integer 0–1000000)`);
      return;
    }
    const service = index.get("Service", namespace, name);
    const ports = service === undefined ? [] : servicePorts(service);
    const servicePort = ports.find((p) => p.port === port && p.protocol === "TCP");
    if (service === undefined || servicePort === undefined) {
      const message =
        service === undefined
          ? `Service ${namespace}/${name} does not exist`
          : `${port} is not a TCP port of Service ${namespace}/${name}`;
      report.warn(at, `${message}; this backend is left out`, "SLB_ERR_K8S_REFERENCE");
      refProblems.push({ reason: "BackendNotFound", message });
      return;
    }
    backends.push({
      service: name,
      port,
      weight,
      members: membersOf(index, namespace, name, { name: servicePort.name, only: ports.length === 1 }),
    });
  });
  return backends;
}

/** The sessionPersistence of the first BackendLBPolicy that targets one of these Services. */
function policyPersistence(
  index: ClusterIndex,
  namespace: string,
  backends: readonly RouteBackend[],
  into: ObjectReport,
): SessionPersistence | undefined {
  for (const backend of backends) {
    const policy = index.backendLbPolicies.find(
      (p) =>
        namespaceOf(p) === namespace &&
        asList(asObj(p.doc.spec).targetRefs).some((t) => {
          const ref = asObj(t);
          return (ref.group ?? "") === "" && ref.kind === "Service" && ref.name === backend.service;
        }),
    );
    if (policy === undefined) continue;
    // A policy's problems are the policy's (reported where it is written), but the rule waits for them.
    const report = into.about(policy);
    return readGatewayPersistence(report, asObj(policy.doc.spec).sessionPersistence, [
      "spec",
      "sessionPersistence",
    ]);
  }
  return undefined;
}

export function parseRoute(route: KubeObject, index: ClusterIndex): ParsedRoute {
  const report = new ObjectReport(route);
  const namespace = namespaceOf(route);
  const name = nameOf(route) ?? "";
  if (nameOf(route) === undefined) report.error(["metadata", "name"], "a required field is missing");
  const spec = asObj(route.doc.spec);
  const hostnames: string[] = [];
  asList(spec.hostnames).forEach((h, i) => {
    if (typeof h === "string" && GATEWAY_HOST.test(h.toLowerCase())) hostnames.push(h.toLowerCase());
    else report.error(["spec", "hostnames", i], `${show(h)} is not a valid host name (like www.example.com)`);
  });
  const refProblems: RefProblem[] = [];
  const rules: RouteRule[] = [];
  const specRules = asList(spec.rules);
  (specRules.length === 0 ? [{}] : specRules).forEach((entry, i) => {
    const at: FieldPath = ["spec", "rules", i];
    const rule = isObj(entry) ? entry : {};
    if (rule.filters !== undefined)
      report.error([...at, "filters"], "filters are not supported (no header or URL rewriting here)");
    if (rule.timeouts !== undefined)
      report.warn(
        [...at, "timeouts"],
        "is not honoured (listener timeouts apply); ignored",
        "SLB_ERR_K8S_NO_EFFECT",
      );
    const rawMatches = asList(rule.matches);
    const matches = (rawMatches.length === 0 ? [{}] : rawMatches).flatMap(
      (m, j) => readMatch(report, m, [...at, "matches", j]) ?? [],
    );
    const backends = readBackends(
      report,
      index,
      namespace,
      rule.backendRefs,
      [...at, "backendRefs"],
      refProblems,
    );
    const persistence =
      rule.sessionPersistence !== undefined
        ? readGatewayPersistence(report, rule.sessionPersistence, [...at, "sessionPersistence"])
        : policyPersistence(index, namespace, backends, report);
    rules.push({ index: i, matches, backends, ...(persistence === undefined ? {} : { persistence }) });
  });
  return { object: route, report, namespace, name, hostnames, rules, refProblems };
}

/**
 * A rule's members: each backend's endpoints, weighted so that each backend gets its share of
 * new clients (backend weight ÷ its endpoint count, scaled to the model's 1–100; 0 stays 0). An
 * endpoint that two backends share is counted once, with the first backend's weight.
 */
export function weightedMembers(backends: readonly RouteBackend[]): MemberModel[] {
  const shares = backends.map((b) => (b.members.length === 0 ? 0 : b.weight / b.members.length));
  const top = Math.max(0, ...shares);
  const out = new Map<string, MemberModel>();
  backends.forEach((backend, i) => {
    const share = shares[i] ?? 0;
    const weight = share === 0 || top === 0 ? 0 : Math.max(1, Math.round((share / top) * 100));
    for (const member of backend.members) {
      const key = `${member.address}:${member.port}`;
      if (!out.has(key)) out.set(key, { ...member, weight });
    }
  });
  return [...out.values()];
}
