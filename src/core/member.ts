/**
 * Member identity and the view of a member that balancing and affinity see.
 *
 * Runtime state (health, counters, bindings) is keyed by {@link MemberId} — pool, address and
 * port — never by position in a configuration, so it survives a reload (docs/architecture.md).
 */

/** `POOL/ENDPOINT`, e.g. `web/127.0.1.1:9000` or `web/[::1]:9000`. */
export type MemberId = string;

/** `ADDRESS:PORT` as used in metric labels and logs; IPv6 addresses in brackets. */
export function endpointOf(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

export function memberIdOf(pool: string, address: string, port: number): MemberId {
  return `${pool}/${endpointOf(address, port)}`;
}

/**
 * What a balancing policy may read of a member. Implemented by the upstream member registry's
 * runtime objects; tests use plain objects.
 */
export interface Candidate {
  readonly id: MemberId;
  /**
   * `ADDRESS:PORT`: the member's identity across processes and instances. The consistent hash
   * hashes this, so two stickylb instances with the same members agree without talking.
   */
  readonly endpoint: string;
  /** 0–100. */
  readonly weight: number;
  /** Healthy, weight > 0, not draining, not removed: may take new clients. */
  readonly eligible: boolean;
  /** Open connections (L4) or in-flight requests (L7); LEAST_CONNECTIONS reads it. */
  readonly active: number;
}

/** Normalises a socket's remote address into the key SOURCE_IP uses (IPv4-mapped IPv6 → IPv4). */
export function clientIpKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return "";
  if (remoteAddress.startsWith("::ffff:") && remoteAddress.includes(".")) return remoteAddress.slice(7);
  return remoteAddress.toLowerCase();
}
