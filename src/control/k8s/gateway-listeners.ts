/**
 * The listeners of one Gateway (docs/gateway-api.md): each entry of `spec.listeners` read and
 * checked (name, port, hostname, allowed routes, TLS certificate references), listeners of one
 * port checked to agree on the protocol (the model has one listener per port), and the status
 * each listener should have once routes are attached.
 */
import type { TlsCertificate } from "../../core/model.js";
import type { FieldPath } from "../config/index.js";
import { show } from "./annotations.js";
import type { ClusterIndex } from "./cluster-index.js";
import { type Condition, condition, GATEWAY_GROUP } from "./gateway-conditions.js";
import { GATEWAY_HOST } from "./http-routes.js";
import { asList, asObj, type Obj } from "./objects.js";
import type { ObjectReport } from "./report.js";
import { certificateFromSecret } from "./tls-secrets.js";

const ROUTE_KIND = { group: GATEWAY_GROUP, kind: "HTTPRoute" };

export interface GatewayListener {
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

export const text = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? value : undefined;

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

/** A Gateway's listeners as read, and per port the protocol its first usable listener chose. */
export interface GatewayListeners {
  readonly listeners: GatewayListener[];
  readonly protocolOfPort: Map<number, "HTTP" | "HTTPS">;
  /** Usable listeners whose port already has a listener of the other protocol. */
  readonly conflicted: Set<GatewayListener>;
}

export function readGatewayListeners(
  report: ObjectReport,
  index: ClusterIndex,
  namespace: string,
  spec: Obj,
): GatewayListeners {
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
  return { listeners, protocolOfPort, conflicted };
}

/** The `status.listeners` entry of each listener, once the routes have been attached. */
export function listenerStatuses(
  { listeners, conflicted }: GatewayListeners,
  ok: boolean,
  firstError: string,
): Obj[] {
  return listeners.map((l) => {
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
}
