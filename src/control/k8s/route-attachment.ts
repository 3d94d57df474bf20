/**
 * Attaching HTTPRoutes to a Gateway (docs/gateway-api.md): which parentRefs of a route name the
 * Gateway, which of its listeners each one attaches to (section name, port, allowed namespaces,
 * hostname intersection) or why none, and what the attached rules give: one pool per route rule,
 * named `NAMESPACE.ROUTE.GATEWAY.RULE`, and the rules of each port. Each route collects the
 * parent status it should have.
 */
import type { ListenerModel, PoolModel, Rule } from "../../core/model.js";
import type { FieldPath, Origin } from "../config/index.js";
import { formatPath } from "../config/index.js";
import { DEFAULT_GATEWAY_CONTROLLER } from "./classes.js";
import { condition, GATEWAY_GROUP } from "./gateway-conditions.js";
import { type GatewayListener, text } from "./gateway-listeners.js";
import { type ParsedRoute, weightedMembers } from "./http-routes.js";
import { stableName } from "./names.js";
import { asList, asObj, type KubeObject, nameOf, namespaceOf, type Obj } from "./objects.js";
import type { ConverterOptions } from "./result.js";

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

/** The parent status a route collects over every Gateway it names. */
export interface RouteOutcome {
  readonly route: ParsedRoute;
  readonly parents: Obj[];
}

/** What the routes attached to one Gateway give it. */
export interface AttachedRoutes {
  readonly pools: Map<string, PoolModel>;
  readonly origins: Map<ListenerModel | PoolModel, Origin>;
  readonly rulesOfPort: Map<number, Rule[]>;
}

/**
 * Attaches every route that names `gateway` to its listeners (counting `attachedRoutes` on each),
 * records each parentRef's status in `outcomes`, and returns the pools and rules the attached
 * route rules give.
 */
export function attachRoutes(
  gateway: KubeObject,
  listeners: readonly GatewayListener[],
  routes: readonly ParsedRoute[],
  outcomes: Map<ParsedRoute, RouteOutcome>,
  options: ConverterOptions,
): AttachedRoutes {
  const namespace = namespaceOf(gateway);
  const name = nameOf(gateway) ?? "";
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
  return { pools, origins, rulesOfPort };
}
