/**
 * How many descriptors the process really has, and how they are shared between the tables that
 * hold one per entry. A UDP flow owns a socket; a TCP connection owns two (client and member); an
 * HTTP client connection one, plus its share of the member pools. A bound above the open-file
 * limit is no bound at all: the table keeps growing until `accept`, `socket` and `open` fail for
 * every listener and the admin API alike (docs/udp.md, docs/reliability.md).
 */
import { readFileSync } from "node:fs";

/**
 * Used when the limit cannot be read (not Linux, /proc not mounted). 1024 is the smallest soft
 * limit a Linux or macOS process starts with, so bounds derived from it can only be too small.
 */
export const FALLBACK_NOFILE = 1024;

/**
 * Descriptors kept out of every table: listener sockets, the admin API and its scrapes, HTTP
 * member pools, health probes, log and configuration files, Node's own. A fixed floor for small
 * limits, plus a tenth of the limit because pools and probes grow with the configuration.
 */
export function reservedDescriptors(nofile: number): number {
  return Math.min(nofile, 64 + Math.floor(nofile / 10));
}

/** The soft "Max open files" limit from the text of `/proc/self/limits`, if it is there. */
export function parseNofileLimit(text: string): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith("Max open files")) continue;
    const soft = line.slice("Max open files".length).trim().split(/\s+/)[0];
    if (soft === "unlimited") return Number.MAX_SAFE_INTEGER;
    const n = Number(soft);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  }
  return undefined;
}

/**
 * The process's soft RLIMIT_NOFILE, as it is after Node's start-up (Node raises the soft limit to
 * the hard one). Falls back to {@link FALLBACK_NOFILE} when it cannot be read.
 */
export function readNofileLimit(path = "/proc/self/limits"): { nofile: number; source: string } {
  try {
    const n = parseNofileLimit(readFileSync(path, "latin1"));
    if (n !== undefined) return { nofile: n, source: path };
  } catch {
    // Not Linux, or /proc is not mounted: the safe fallback below.
  }
  return { nofile: FALLBACK_NOFILE, source: "fallback" };
}

/** Bounds on the descriptor-holding tables of one process. */
export interface DescriptorBounds {
  readonly nofile: number;
  readonly reserved: number;
  /** UDP flows of all UDP listeners together (one descriptor each); 0 without a UDP listener. */
  readonly udpFlows: number;
  /**
   * Client connections of all TCP, HTTP and HTTPS listeners together (up to two descriptors
   * each); 0 when every listener is UDP.
   */
  readonly connections: number;
}

/** Which kinds of descriptor-holding listeners the configuration has. */
export interface ListenerKinds {
  /** At least one UDP listener (flows). */
  readonly udp: boolean;
  /** At least one TCP, HTTP or HTTPS listener (client connections). */
  readonly connections: boolean;
}

/** Both kinds: the split before any configuration, and of a configuration with no listener. */
export const BOTH_KINDS: ListenerKinds = { udp: true, connections: true };

/** The kinds of listeners among `protocols`. */
export function listenerKinds(protocols: Iterable<string>): ListenerKinds {
  let udp = false;
  let connections = false;
  for (const p of protocols) {
    if (p === "UDP") udp = true;
    else connections = true;
  }
  return { udp, connections };
}

/**
 * Splits what the reserve leaves between the kinds of listeners the configuration has. With both,
 * half to UDP flows (one descriptor each) and half to client connections (two each: the client
 * and its member connection), so that neither table can starve the other, the listeners or the
 * admin API; at the common limits 1,024 → 429 flows and 214 connections, 20,000 → 8,968 and
 * 4,484, 1,048,576 → 471,827 and 235,913. With one kind only, it gets all of it (20,000 → 8,968
 * connections, or 17,936 flows) and the other bound is 0: no descriptor is set aside for a table
 * that nothing fills. A configuration with no listener is split as with both.
 */
export function descriptorBounds(nofile: number, kinds: ListenerKinds = BOTH_KINDS): DescriptorBounds {
  const reserved = reservedDescriptors(nofile);
  const usable = Math.max(0, Math.min(nofile, 1 << 30) - reserved);
  const { udp, connections } = kinds.udp || kinds.connections ? kinds : BOTH_KINDS;
  const udpShare = !udp ? 0 : connections ? usable / 2 : usable;
  const connectionShare = usable - udpShare;
  return {
    nofile,
    reserved,
    udpFlows: udp ? Math.max(1, Math.floor(udpShare)) : 0,
    connections: connections ? Math.max(1, Math.floor(connectionShare / 2)) : 0,
  };
}
