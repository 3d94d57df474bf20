/**
 * Members of a Service port from its EndpointSlices, or from a legacy Endpoints object when the
 * Service has no slice (docs/reference/annotations.md).
 *
 * EndpointSlice conditions (KEP-1672): `ready` unset counts as ready; `ready: false` is not a
 * member, except `serving: true` with `terminating: true`, which is a draining member: it keeps
 * the clients bound to it and takes no new ones, so a rolling update does not cut sessions.
 */
import { isIP } from "node:net";
import { endpointOf } from "../../core/member.js";
import type { MemberModel } from "../../core/model.js";
import type { ClusterIndex } from "./cluster-index.js";
import { asList, asObj, isObj, type KubeObject } from "./objects.js";

/** The Service port whose members are wanted: its name ("" when unnamed). */
export interface PortRef {
  readonly name: string;
  /** The Service has this one port only: a slice's only port is then its port, whatever its name. */
  readonly only: boolean;
}

const portName = (port: Record<string, unknown>): string => (typeof port.name === "string" ? port.name : "");

/** The slice or subset port for a Service port: same name, or the only port there is. */
function matchPort(ports: readonly unknown[], wanted: PortRef): number | undefined {
  const objects = ports.filter(isObj);
  const match =
    objects.find((p) => portName(p) === wanted.name) ??
    (wanted.only && objects.length === 1 ? objects[0] : undefined);
  const port = match?.port;
  return typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535 ? port : undefined;
}

function addMember(
  members: Map<string, MemberModel>,
  address: unknown,
  port: number,
  draining: boolean,
  targetRef: unknown,
): void {
  if (typeof address !== "string" || isIP(address) === 0) return;
  const key = endpointOf(address, port);
  const known = members.get(key);
  const name = podName(targetRef);
  // One address can sit in two slices while the slice controller moves it; ready wins.
  if (known === undefined || (known.draining && !draining))
    members.set(key, { address, port, weight: 1, draining, ...(name === undefined ? {} : { name }) });
}

/** The Pod behind an endpoint names the member for people (status, dashboard, access log). */
function podName(targetRef: unknown): string | undefined {
  const ref = asObj(targetRef);
  return ref.kind === "Pod" && typeof ref.name === "string" && ref.name !== "" ? ref.name : undefined;
}

function fromSlice(slice: KubeObject, wanted: PortRef, members: Map<string, MemberModel>): void {
  const type = slice.doc.addressType;
  if (type !== undefined && type !== "IPv4" && type !== "IPv6") return;
  const port = matchPort(asList(slice.doc.ports), wanted);
  if (port === undefined) return;
  for (const endpoint of asList(slice.doc.endpoints).filter(isObj)) {
    const conditions = asObj(endpoint.conditions);
    let draining: boolean;
    if (conditions.ready !== false) draining = false;
    else if (conditions.serving === true && conditions.terminating === true) draining = true;
    else continue;
    for (const address of asList(endpoint.addresses))
      addMember(members, address, port, draining, endpoint.targetRef);
  }
}

function fromEndpoints(endpoints: KubeObject, wanted: PortRef, members: Map<string, MemberModel>): void {
  for (const subset of asList(endpoints.doc.subsets).filter(isObj)) {
    const port = matchPort(asList(subset.ports), wanted);
    if (port === undefined) continue;
    // notReadyAddresses are not members; legacy Endpoints say nothing of terminating.
    for (const address of asList(subset.addresses).filter(isObj))
      addMember(members, address.ip, port, false, address.targetRef);
  }
}

const byAddress = (a: MemberModel, b: MemberModel): number =>
  a.address.localeCompare(b.address, "en", { numeric: true }) || a.port - b.port;

export function membersOf(
  index: ClusterIndex,
  namespace: string,
  service: string,
  wanted: PortRef,
): MemberModel[] {
  const members = new Map<string, MemberModel>();
  const slices = index.slicesOf(namespace, service);
  if (slices.length > 0) for (const slice of slices) fromSlice(slice, wanted, members);
  else {
    const legacy = index.get("Endpoints", namespace, service);
    if (legacy !== undefined) fromEndpoints(legacy, wanted, members);
  }
  return [...members.values()].sort(byAddress);
}
