import { isIPv4, isIPv6 } from "node:net";
import type { ListenerModel, PoolModel } from "../core/model.js";

/** Where one listener runs with `--l4-dataplane nftables`. */
export type PlaneChoice =
  | { readonly plane: "kernel" }
  /** `reason` says why a TCP/UDP listener stays in the process (logged once as a warning); undefined for HTTP/HTTPS. */
  | { readonly plane: "userspace"; readonly reason: string | undefined };

/** The timeouts every L4 listener has unless the configuration sets them; see configuration.md. */
const DEFAULT_CLIENT_MS = 60_000;
const DEFAULT_MEMBER_MS = 60_000;

/**
 * Decides whether a listener can be served by nf_tables. The kernel only rewrites addresses: it
 * cannot read a PROXY protocol header (that needs the byte stream), count open connections per
 * member for LEAST_CONNECTIONS, or time a client or member out apart from conntrack's own idle
 * timeouts. Nor can NAT translate between IPv4 and IPv6: a listener and its pool's members must be
 * of one family. Such listeners stay in userspace, with the reason.
 */
export function planeFor(listener: ListenerModel, pool: PoolModel | undefined): PlaneChoice {
  if (listener.protocol === "HTTP" || listener.protocol === "HTTPS")
    return { plane: "userspace", reason: undefined };
  const why = (reason: string): PlaneChoice => ({ plane: "userspace", reason });
  if (listener.proxyProtocol)
    return why("it reads a PROXY protocol header, which needs the byte stream (proxyProtocol: true)");
  if (listener.timeouts.clientMs !== DEFAULT_CLIENT_MS || listener.timeouts.memberMs !== DEFAULT_MEMBER_MS)
    return why("it sets timeouts.client or timeouts.member, which the kernel cannot enforce");
  if (pool === undefined) return why(`its pool ${JSON.stringify(listener.defaultPool ?? "")} is not defined`);
  if (pool.algorithm === "LEAST_CONNECTIONS")
    return why(
      `pool ${pool.name} uses LEAST_CONNECTIONS, which needs open-connection counts the kernel does not keep`,
    );
  const family = familyMismatch(listener.address, pool);
  if (family !== undefined) return why(family);
  return { plane: "kernel" };
}

const familyName = (address: string): string => (isIPv4(address) ? "IPv4" : "IPv6");

/**
 * Why a listener and its pool cannot be joined by NAT in the kernel, or undefined when they can:
 * `::` takes clients of both families, a pool may not mix families, and a listener's family must
 * be its members'.
 */
function familyMismatch(address: string, pool: PoolModel): string | undefined {
  const cannot = "the kernel cannot translate between IPv4 and IPv6";
  if (isIPv6(address) && /^[0:]+$/.test(address))
    return `its address ${address} takes IPv4 and IPv6 clients alike and ${cannot} (listen on 0.0.0.0 or on one address to use the kernel plane)`;
  const v4 = pool.members.find((m) => isIPv4(m.address));
  const v6 = pool.members.find((m) => !isIPv4(m.address));
  if (v4 !== undefined && v6 !== undefined)
    return `pool ${pool.name} mixes the IPv4 member ${v4.address} and the IPv6 member ${v6.address}, and ${cannot}`;
  const member = v4 ?? v6;
  if (member === undefined) return undefined;
  const listenerFamily = address === "0.0.0.0" ? "IPv4" : familyName(address);
  const memberFamily = familyName(member.address);
  if (listenerFamily === memberFamily) return undefined;
  return `pool ${pool.name} has the ${memberFamily} member ${member.address} but the listener's address ${address} is ${listenerFamily}, and ${cannot}`;
}
