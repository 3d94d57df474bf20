import { isIPv6 } from "node:net";
import type { NftRun } from "./nft-command.js";

/** One element of a binding set. */
export interface SetElement {
  readonly client: string;
  /** Milliseconds until it lapses without traffic. */
  readonly expiresMs: number | undefined;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * Only an IPv4 or IPv6 address may be spliced into an nft command (binding keys come from the admin
 * API): digits, hex digits, colons and dots, no zone (`%eth0`), nothing nft could read as syntax.
 */
export function isAddressKey(text: string): boolean {
  const m = IPV4.exec(text);
  if (m !== null) return m.slice(1).every((part) => Number(part) <= 255);
  return /^[0-9a-fA-F:.]+$/.test(text) && isIPv6(text);
}

/**
 * NftReader reads the table back with `nft -j`: named counters (connections per listener) and the
 * elements of binding sets, and looks up or deletes one element (the bindings API).
 */
export class NftReader {
  constructor(
    private readonly run: NftRun,
    private readonly table: string,
  ) {}

  /** Packets counted by every named counter of the table (= new connections or flows). */
  async counters(): Promise<Map<string, number>> {
    const result = await this.run(["-j", "list", "counters", "table", "inet", this.table]);
    const counts = new Map<string, number>();
    if (result.code !== 0) return counts;
    for (const item of nftItems(result.stdout)) {
      const counter = item.counter as { name?: string; packets?: number } | undefined;
      if (counter?.name !== undefined) counts.set(counter.name, counter.packets ?? 0);
    }
    return counts;
  }

  /** The client addresses in a set (empty when the set does not exist). */
  async elements(set: string): Promise<SetElement[]> {
    const result = await this.run(["-j", "list", "set", "inet", this.table, set]);
    if (result.code !== 0) return [];
    const out: SetElement[] = [];
    for (const item of nftItems(result.stdout)) {
      const elems = (item.set as { elem?: unknown[] } | undefined)?.elem ?? [];
      for (const e of elems) {
        if (typeof e === "string") out.push({ client: e, expiresMs: undefined });
        else {
          const inner = (e as { elem?: { val?: unknown; expires?: number } }).elem;
          if (typeof inner?.val === "string")
            out.push({
              client: inner.val,
              expiresMs: inner.expires === undefined ? undefined : inner.expires * 1000,
            });
        }
      }
    }
    return out;
  }

  /** Whether `client` (an IPv4 or IPv6 address) is in the set. */
  async has(set: string, client: string): Promise<boolean> {
    if (!isAddressKey(client)) return false;
    const result = await this.run(["get", "element", "inet", this.table, set, `{ ${client} }`]);
    return result.code === 0;
  }

  /** Removes `client` from the set; false when it was not there. */
  async remove(set: string, client: string): Promise<boolean> {
    if (!isAddressKey(client)) return false;
    const result = await this.run(["delete", "element", "inet", this.table, set, `{ ${client} }`]);
    return result.code === 0;
  }
}

/** The objects of an `nft -j` answer (`{"nftables": [{metainfo}, {set: …}, …]}`); [] if it is not one. */
function nftItems(json: string): Record<string, unknown>[] {
  try {
    const parsed = JSON.parse(json) as { nftables?: unknown };
    return Array.isArray(parsed.nftables) ? (parsed.nftables as Record<string, unknown>[]) : [];
  } catch {
    return [];
  }
}
