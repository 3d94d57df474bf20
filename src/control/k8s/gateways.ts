/**
 * Gateway API v1 → listeners and pools (docs/gateway-api.md). A GatewayClass is ours when its
 * `controllerName` is `--gateway-class-controller`; each Gateway of such a class gives one HTTP or
 * HTTPS listener per port (listeners of one port share it, told apart by hostname); the
 * HTTPRoutes attached to a Gateway give the listener's rules, one pool per route rule, named
 * `NAMESPACE.ROUTE.GATEWAY.RULE`. Every object also gets the status the Gateway API defines.
 */
import type { ListenerModel } from "../../core/model.js";
import { DEFAULT_MAX_FLOWS } from "../../core/model.js";
import type { FieldPath } from "../config/index.js";
import { formatPath } from "../config/index.js";
import { precedence } from "./assemble.js";
import { DEFAULT_GATEWAY_CONTROLLER } from "./classes.js";
import type { ClusterIndex } from "./cluster-index.js";
import { condition, generationOf, type WantedStatus } from "./gateway-conditions.js";
import { listenerStatuses, readGatewayListeners } from "./gateway-listeners.js";
import { type ParsedRoute, parseRoute } from "./http-routes.js";
import { stableName } from "./names.js";
import { asList, asObj, type KubeObject, nameOf, namespaceOf } from "./objects.js";
import { ObjectReport } from "./report.js";
import type { ConverterOptions, ObjectResult } from "./result.js";
import { attachRoutes, type RouteOutcome } from "./route-attachment.js";
import { timeoutsFor } from "./timeouts.js";

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
  const read = readGatewayListeners(report, index, namespace, spec);
  const { listeners, protocolOfPort, conflicted } = read;
  const { pools, origins, rulesOfPort } = attachRoutes(gateway, listeners, routes, outcomes, options);
  const source = { file: gateway.file, object: report.key };

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
      listeners: listenerStatuses(read, ok, firstError),
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
