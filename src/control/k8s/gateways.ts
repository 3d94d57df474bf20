/**
 * Gateway API v1 → listeners and pools (docs/gateway-api.md). A GatewayClass is ours when its
 * `controllerName` is `--gateway-class-controller`; each Gateway of such a class gives one HTTP or
 * HTTPS listener per port (listeners of one port share it, told apart by hostname); the
 * HTTPRoutes attached to a Gateway give the listener's rules, one pool per route rule, named
 * `NAMESPACE.ROUTE.GATEWAY.RULE`. Every object also gets the status the Gateway API defines.
 */
import type { ListenerModel, PoolModel, Rule, TlsCertificate } from "../../core/model.js";
import { DEFAULT_MAX_FLOWS } from "../../core/model.js";
import type { FieldPath, Origin } from "../config/index.js";
import { formatPath } from "../config/index.js";
import { show } from "./annotations.js";
import { precedence } from "./assemble.js";
import { DEFAULT_GATEWAY_CONTROLLER } from "./classes.js";
import type { ClusterIndex } from "./cluster-index.js";
import {
  type Condition,
  condition,
  GATEWAY_GROUP,
  generationOf,
  type WantedStatus,
} from "./gateway-conditions.js";
import { GATEWAY_HOST, type ParsedRoute, parseRoute, weightedMembers } from "./http-routes.js";
import { stableName } from "./names.js";
import { asList, asObj, type KubeObject, nameOf, namespaceOf, type Obj } from "./objects.js";
import { ObjectReport } from "./report.js";
import type { ConverterOptions, ObjectResult } from "./result.js";
import { timeoutsFor } from "./timeouts.js";
import { certificateFromSecret } from "./tls-secrets.js";

const ROUTE_KIND = { group: GATEWAY_GROUP, kind: "HTTPRoute" };

interface GatewayListener {
  readonly index: number;
  readonly name: string;
  readonly port: number;
  readonly protocol: "HTTP" | "HTTPS";
  readonly hostname?: string;
  readonly tls: readonly TlsCertificate[];
  readonly from: "Same" | "All";
  /** Listener conditions that do not depend on routes. */
  readonly conditions: Condition[];
  readonly usable: boolean;
  attachedRoutes: number;
}

const text = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? value : undefined;

/** Our GatewayClasses, by name, each with its status. */
function ourClasses(index: ClusterIndex, options: ConverterOptions): Map<string, KubeObject> {
  const controller = options.gatewayClassController ?? DEFAULT_GATEWAY_CONTROLLER;
  const classes = new Map<string, KubeObject>();
  for (const object of index.gatewayClasses) {
    const name = nameOf(object);
    if (name !== undefined && asObj(object.doc.spec).controllerName === controller) classes.set(name, object);
  }
  return classes;
}

function classResult(object: KubeObject): ObjectResult {
  const report = new ObjectReport(object);
  const generation = generationOf(object.doc);
  const name = nameOf(object) ?? "";
  return {
    key: report.key,
    kind: "GatewayClass",
    namespace: "",
    name,
    listeners: [],
    pools: [],
    errors: report.errors,
    warnings: report.warnings,
    origins: new Map(),
    wantedStatus: {
      kind: "GatewayClass",
      namespace: "",
      name,
      generation,
      status: {
        conditions: [condition("Accepted", true, "Accepted", "stickylb serves the Gateways of this class")],
      },
    },
  };
}

function readListener(
  report: ObjectReport,
  index: ClusterIndex,
  namespace: string,
  value: unknown,
  i: number,
): GatewayListener | undefined {
  const at: FieldPath = ["spec", "listeners", i];
  const entry = asObj(value);
  const name = text(entry.name);
  if (name === undefined) {
    report.error([...at, "name"], "a required field is missing (the listener's name)");
    return undefined;
  }
  const port = entry.port;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    report.error([...at, "port"], `${show(port)} is not valid (an integer 1–65535)`);
    return undefined;
  }
  const conditions: Condition[] = [];
  const protocol = entry.protocol;
  let hostname: string | undefined;
  if (entry.hostname !== undefined) {
    if (typeof entry.hostname === "string" && GATEWAY_HOST.test(entry.hostname.toLowerCase()))
      hostname = entry.hostname.toLowerCase();
    else {
      report.error(
        [...at, "hostname"],
        `${show(entry.hostname)} is not a valid host name (like www.example.com)`,
      );
      return undefined;
    }
  }
  const namespaces = asObj(asObj(entry.allowedRoutes).namespaces);
  const fromValue = namespaces.from ?? "Same";
  let from: "Same" | "All" = "Same";
  if (fromValue === "All" || fromValue === "Same") from = fromValue;
  else if (fromValue === "Selector")
    report.error([...at, "allowedRoutes", "namespaces", "from"], '"Selector" is not supported (Same or All)');
  else
    report.error(
      [...at, "allowedRoutes", "namespaces", "from"],
      `${show(fromValue)} is not valid (Same or All)`,
    );
  const kinds = asList(asObj(entry.allowedRoutes).kinds);
  const routeKindsOk =
    kinds.length === 0 ||
    kinds.some((k) => asObj(k).kind === "HTTPRoute" && (asObj(k).group ?? GATEWAY_GROUP) === GATEWAY_GROUP);
  if (protocol !== "HTTP" && protocol !== "HTTPS") {
    report.warn(
      [...at, "protocol"],
      `${show(protocol)} is not supported on Gateway listeners (HTTP or HTTPS); this listener is not served`,
      "SLB_ERR_K8S_NO_EFFECT",
    );
    conditions.push(
      condition("Accepted", false, "UnsupportedProtocol", `protocol ${String(protocol)} is not supported`),
      condition("Programmed", false, "Invalid", "the listener is not accepted"),
      condition("ResolvedRefs", true, "ResolvedRefs", "no references"),
    );
    return {
      index: i,
      name,
      port,
      protocol: "HTTP",
      tls: [],
      from,
      conditions,
      usable: false,
      attachedRoutes: 0,
    };
  }
  if (!routeKindsOk)
    conditions.push(
      condition("ResolvedRefs", false, "InvalidRouteKinds", "stickylb attaches HTTPRoutes only"),
    );
  const tls: TlsCertificate[] = [];
  if (protocol === "HTTPS") {
    const tlsConfig = asObj(entry.tls);
    if ((tlsConfig.mode ?? "Terminate") !== "Terminate") {
      report.error([...at, "tls", "mode"], `${show(tlsConfig.mode)} is not supported (Terminate)`);
      return undefined;
    }
    const refs = asList(tlsConfig.certificateRefs);
    if (refs.length === 0)
      report.error([...at, "tls", "certificateRefs"], "an HTTPS listener needs certificateRefs");
    refs.forEach((ref, j) => {
      const refAt: FieldPath = [...at, "tls", "certificateRefs", j];
      const r = asObj(ref);
      if ((r.group ?? "") !== "" || (r.kind ?? "Secret") !== "Secret") {
        report.error(refAt, `${show(r.kind)} is not supported (a kubernetes.io/tls Secret)`);
        return;
      }
      if ((r.namespace ?? namespace) !== namespace) {
        report.error(
          [...refAt, "namespace"],
          "a Secret in another namespace is not permitted (ReferenceGrant is not supported)",
        );
        return;
      }
      const secret = text(r.name);
      if (secret === undefined) {
        report.error([...refAt, "name"], "a required field is missing (the Secret's name)");
        return;
      }
      const certificate = certificateFromSecret(index, namespace, secret, { report, path: refAt });
      if (certificate !== undefined) tls.push(certificate);
    });
  }
  return {
    index: i,
    name,
    port,
    protocol,
    ...(hostname === undefined ? {} : { hostname }),
    tls,
    from,
    conditions,
    usable: routeKindsOk,
    attachedRoutes: 0,
  };
}

/** The hosts a route serves on a listener: the intersection of both, as the Gateway API defines it. */
function hostsOn(listener: GatewayListener, route: ParsedRoute): (string | undefined)[] | undefined {
  const l = listener.hostname;
  if (route.hostnames.length === 0) return [l];
  if (l === undefined) return [...route.hostnames];
  const matches = (wild: string, host: string): boolean =>
    wild.startsWith("*.") && host.endsWith(wild.slice(1)) && host.length > wild.length - 1;
  const out = route.hostnames.flatMap((h) =>
    h === l ? [h] : matches(l, h) ? [h] : matches(h, l) ? [l] : [],
  );
  return out.length === 0 ? undefined : out;
}

interface ParentRef {
  readonly index: number;
  readonly ref: Obj;
  readonly sectionName?: string;
  readonly port?: number;
}

/** The parentRefs of a route that name this Gateway. */
function refsTo(route: ParsedRoute, gateway: KubeObject): ParentRef[] {
  const out: ParentRef[] = [];
  asList(asObj(route.object.doc.spec).parentRefs).forEach((value, index) => {
    const ref = asObj(value);
    if ((ref.group ?? GATEWAY_GROUP) !== GATEWAY_GROUP || (ref.kind ?? "Gateway") !== "Gateway") return;
    if (ref.name !== nameOf(gateway) || (ref.namespace ?? route.namespace) !== namespaceOf(gateway)) return;
    const sectionName = text(ref.sectionName);
    const port = typeof ref.port === "number" ? ref.port : undefined;
    out.push({
      index,
      ref,
      ...(sectionName === undefined ? {} : { sectionName }),
      ...(port === undefined ? {} : { port }),
    });
  });
  return out;
}

/** What one parentRef of a route gets on this Gateway: the listeners it attaches to, or why none. */
function attach(
  parent: ParentRef,
  route: ParsedRoute,
  gatewayNamespace: string,
  listeners: readonly GatewayListener[],
): {
  listeners: { listener: GatewayListener; hosts: (string | undefined)[] }[];
  reason: string;
  message: string;
} {
  const named = listeners.filter(
    (l) =>
      (parent.sectionName === undefined || l.name === parent.sectionName) &&
      (parent.port === undefined || l.port === parent.port),
  );
  if (named.length === 0)
    return {
      listeners: [],
      reason: "NoMatchingParent",
      message: "no listener has this sectionName and port",
    };
  const allowed = named.filter((l) => l.usable && (l.from === "All" || route.namespace === gatewayNamespace));
  if (allowed.length === 0)
    return {
      listeners: [],
      reason: "NotAllowedByListeners",
      message: "the listeners do not allow routes from this namespace or of this kind",
    };
  const out = allowed.flatMap((listener) => {
    const hosts = hostsOn(listener, route);
    return hosts === undefined ? [] : [{ listener, hosts }];
  });
  if (out.length === 0)
    return {
      listeners: [],
      reason: "NoMatchingListenerHostname",
      message: "no hostname of the route matches a listener's hostname",
    };
  return { listeners: out, reason: "Accepted", message: "attached" };
}

interface RouteOutcome {
  readonly route: ParsedRoute;
  readonly parents: Obj[];
}

function gatewayResult(
  gateway: KubeObject,
  index: ClusterIndex,
  routes: readonly ParsedRoute[],
  outcomes: Map<ParsedRoute, RouteOutcome>,
  options: ConverterOptions,
): ObjectResult {
  const report = new ObjectReport(gateway);
  const namespace = namespaceOf(gateway);
  const name = nameOf(gateway) ?? "";
  const generation = generationOf(gateway.doc);
  if (nameOf(gateway) === undefined) report.error(["metadata", "name"], "a required field is missing");
  const spec = asObj(gateway.doc.spec);
  if (asList(spec.addresses).length > 0)
    report.warn(
      ["spec", "addresses"],
      "is not honoured (listeners bind on --listen-address); ignored",
      "SLB_ERR_K8S_NO_EFFECT",
    );
  const listeners = asList(spec.listeners).flatMap(
    (l, i) => readListener(report, index, namespace, l, i) ?? [],
  );
  if (asList(spec.listeners).length === 0)
    report.error(["spec", "listeners"], "a Gateway needs at least one listener");
  const seenNames = new Set<string>();
  for (const l of listeners) {
    if (seenNames.has(l.name))
      report.error(
        ["spec", "listeners", l.index, "name"],
        `${show(l.name)} is already the name of another listener`,
      );
    seenNames.add(l.name);
  }
  // Listeners of one port must agree on the protocol; the model has one listener per port.
  const protocolOfPort = new Map<number, "HTTP" | "HTTPS">();
  const conflicted = new Set<GatewayListener>();
  for (const l of listeners.filter((x) => x.usable)) {
    const first = protocolOfPort.get(l.port);
    if (first === undefined) protocolOfPort.set(l.port, l.protocol);
    else if (first !== l.protocol) conflicted.add(l);
  }
  for (const l of conflicted)
    report.error(
      ["spec", "listeners", l.index, "protocol"],
      `port ${l.port} already has a ${protocolOfPort.get(l.port)} listener (listeners of one port share its protocol)`,
    );

  const source = { file: gateway.file, object: report.key };
  const pools = new Map<string, PoolModel>();
  const origins = new Map<ListenerModel | PoolModel, Origin>();
  const rulesOfPort = new Map<number, Rule[]>();
  for (const route of routes) {
    const refs = refsTo(route, gateway);
    if (refs.length === 0) continue;
    const outcome = outcomes.get(route) ?? { route, parents: [] };
    outcomes.set(route, outcome);
    const routeBroken = route.report.errors.length > 0;
    for (const parent of refs) {
      const got = attach(parent, route, namespace, listeners);
      const accepted = !routeBroken && got.listeners.length > 0;
      const firstError = route.report.errors[0]?.message ?? "";
      const conditions = [
        routeBroken
          ? condition("Accepted", false, "UnsupportedValue", firstError)
          : condition("Accepted", accepted, got.reason, got.message),
        route.refProblems.length > 0
          ? condition("ResolvedRefs", false, route.refProblems[0]!.reason, route.refProblems[0]!.message)
          : condition("ResolvedRefs", true, "ResolvedRefs", "all references resolved"),
      ];
      outcome.parents.push({
        parentRef: parent.ref,
        controllerName: options.gatewayClassController ?? DEFAULT_GATEWAY_CONTROLLER,
        conditions,
      });
      if (!accepted) {
        // Files have no status to look at: say why the route serves nothing there.
        if (!routeBroken)
          route.report.warn(
            ["spec", "parentRefs", parent.index],
            `not attached to Gateway ${namespace}/${name} (${got.reason}: ${got.message})`,
            "SLB_ERR_K8S_REFERENCE",
          );
        continue;
      }
      for (const { listener, hosts } of got.listeners) {
        listener.attachedRoutes += 1;
        for (const rule of route.rules) {
          const poolName = stableName(route.namespace, route.name, name, rule.index);
          if (!pools.has(poolName)) {
            const pool: PoolModel = {
              name: poolName,
              algorithm: "ROUND_ROBIN",
              ...(rule.persistence === undefined ? {} : { sessionPersistence: rule.persistence }),
              members: weightedMembers(rule.backends),
              source: { file: route.object.file, object: route.report.key },
            };
            pools.set(poolName, pool);
            const path: FieldPath = ["spec", "rules", rule.index];
            origins.set(pool, { ...pool.source, path: formatPath(path), ...route.object.lineOf(path) });
          }
          const rules = rulesOfPort.get(listener.port) ?? [];
          rulesOfPort.set(listener.port, rules);
          for (const host of hosts)
            for (const match of rule.matches)
              rules.push({
                ...(host === undefined ? {} : { host }),
                ...(match.path === undefined ? {} : { path: match.path }),
                pathType: match.pathType,
                pool: poolName,
              });
        }
      }
    }
  }

  const modelListeners: ListenerModel[] = [];
  for (const [port, protocol] of protocolOfPort) {
    const members = listeners.filter((l) => l.usable && l.port === port && !conflicted.has(l));
    const seen = new Set<string>();
    const rules = (rulesOfPort.get(port) ?? [])
      .filter((r) => {
        // The first route to claim a host and path keeps it, as the Gateway API's precedence says.
        const key = `${r.host ?? "*"} ${r.pathType} ${r.path ?? ""}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      })
      .sort(precedence);
    const listener: ListenerModel = {
      name: stableName("gateway", namespace, name, port),
      protocol,
      address: options.listenAddress,
      port,
      rules,
      tls: members.flatMap((l) => l.tls),
      proxyProtocol: false,
      timeouts: timeoutsFor(protocol, { ok: true }),
      maxFlows: DEFAULT_MAX_FLOWS,
      accessLog: false,
      source,
    };
    const path: FieldPath = ["spec", "listeners", members[0]?.index ?? 0, "port"];
    origins.set(listener, { ...source, path: formatPath(path), ...gateway.lineOf(path) });
    modelListeners.push(listener);
  }

  const ok = report.errors.length === 0;
  const firstError = report.errors[0]?.message ?? "";
  const listenerStatuses = listeners.map((l) => {
    const own = l.conditions;
    const has = (type: string): boolean => own.some((c) => c.type === type);
    const conditions: Condition[] = [...own];
    if (!has("Accepted")) conditions.push(condition("Accepted", true, "Accepted", "listener accepted"));
    if (!has("ResolvedRefs"))
      conditions.push(
        ok
          ? condition("ResolvedRefs", true, "ResolvedRefs", "all references resolved")
          : condition("ResolvedRefs", false, "InvalidCertificateRef", firstError),
      );
    conditions.push(
      conflicted.has(l)
        ? condition("Conflicted", true, "ProtocolConflict", `port ${l.port} has listeners of two protocols`)
        : condition("Conflicted", false, "NoConflicts", "no conflicts"),
    );
    if (!has("Programmed"))
      conditions.push(
        ok && l.usable
          ? condition("Programmed", true, "Programmed", "listening")
          : condition("Programmed", false, "Invalid", ok ? "the listener is not usable" : firstError),
      );
    return { name: l.name, supportedKinds: [ROUTE_KIND], attachedRoutes: l.attachedRoutes, conditions };
  });
  const wantedStatus: WantedStatus = {
    kind: "Gateway",
    namespace,
    name,
    generation,
    status: {
      conditions: [
        ok
          ? condition("Accepted", true, "Accepted", "accepted by stickylb")
          : condition("Accepted", false, "ListenersNotValid", firstError),
        ok
          ? condition("Programmed", true, "Programmed", "serving")
          : condition("Programmed", false, "Invalid", firstError),
      ],
      listeners: listenerStatuses,
    },
  };
  return {
    key: report.key,
    kind: "Gateway",
    namespace,
    name,
    listeners: modelListeners,
    pools: [...pools.values()],
    errors: report.errors,
    warnings: report.warnings,
    origins,
    wantedStatus,
  };
}

/** Results of every Gateway API object stickylb serves: our classes, their Gateways, their routes. */
export function convertGatewayApi(index: ClusterIndex, options: ConverterOptions): ObjectResult[] {
  const classes = ourClasses(index, options);
  const results: ObjectResult[] = [...classes.values()].map(classResult);
  const gateways = index.gateways.filter((g) => {
    const className = asObj(g.doc.spec).gatewayClassName;
    return typeof className === "string" && classes.has(className);
  });
  if (gateways.length === 0) return results;
  // Only routes that name one of our Gateways are read (and reported on).
  const routes = index.httpRoutes
    .filter((r) =>
      asList(asObj(r.doc.spec).parentRefs).some((p) => {
        const ref = asObj(p);
        const ns = ref.namespace ?? namespaceOf(r);
        return gateways.some((g) => nameOf(g) === ref.name && namespaceOf(g) === ns);
      }),
    )
    .map((r) => parseRoute(r, index));
  const outcomes = new Map<ParsedRoute, RouteOutcome>();
  for (const gateway of gateways) results.push(gatewayResult(gateway, index, routes, outcomes, options));
  for (const route of routes) {
    const outcome = outcomes.get(route);
    results.push({
      key: route.report.key,
      kind: "HTTPRoute",
      namespace: route.namespace,
      name: route.name,
      listeners: [],
      pools: [],
      errors: route.report.errors,
      warnings: route.report.warnings,
      origins: new Map(),
      wantedStatus: {
        kind: "HTTPRoute",
        namespace: route.namespace,
        name: route.name,
        generation: generationOf(route.object.doc),
        status: { parents: outcome?.parents ?? [] },
      },
    });
  }
  return results;
}
