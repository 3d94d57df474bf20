import { isIPv4 } from "node:net";
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
 * timeouts. Such listeners stay in userspace, with the reason. This version programs IPv4 only.
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
  if (listener.address !== "0.0.0.0" && !isIPv4(listener.address))
    return why(`its address ${listener.address} is IPv6; the kernel plane programs IPv4 listeners only`);
  const v6 = pool.members.find((m) => !isIPv4(m.address));
  if (v6 !== undefined)
    return why(
      `pool ${pool.name} has the IPv6 member ${v6.address}; the kernel plane programs IPv4 members only`,
    );
  return { plane: "kernel" };
}
