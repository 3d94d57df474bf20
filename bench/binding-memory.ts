/**
 * Heap cost of a full binding table, in bytes per entry, for the two kinds of keys stickylb
 * stores: client IPv4 addresses (SOURCE_IP persistence) and 32-character application cookie
 * values (APP_COOKIE). Keys are made the way the data path makes them — an address cut out of an
 * IPv4-mapped IPv6 address, a value cut out of a whole `Cookie` header — so the figure includes
 * what the table keeps of them, and member ids are fresh strings per bind, so interning is what is
 * measured. Then a churn phase at the bound (lookups and binds that evict) reports throughput and
 * the cost per entry once the table's `Map` has rehashed.
 *
 * Run: node --expose-gc dist/bench/binding-memory.js [entries]   (after `npm run build`)
 */

import { ManualClock } from "../src/core/clock.js";
import { clientIpKey } from "../src/core/member.js";
import { BindingTable } from "../src/data/affinity/binding-table.js";
import { findCookie } from "../src/data/affinity/cookie-header.js";

type Gc = () => void;
const gc = (globalThis as { gc?: Gc }).gc;
if (gc === undefined) {
  console.error("run with node --expose-gc");
  process.exit(2);
}

const entries = Number(process.argv[2] ?? 1_000_000);
const MEMBERS = 10;

function memberId(i: number): string {
  return "web/10.0.0." + ((i % MEMBERS) + 1) + ":8080";
}

function sourceIpKey(i: number): string {
  const ip = `${10 + ((i >>> 24) & 0xff)}.${(i >>> 16) & 0xff}.${(i >>> 8) & 0xff}.${i & 0xff}`;
  return clientIpKey(`::ffff:${ip}`);
}

function appCookieKey(i: number): string {
  const session = (i.toString(16).padStart(8, "0") + "0123456789abcdef01234567").slice(0, 32);
  const header = `_ga=GA1.2.${i}.1700000000; SESSION=${session}; theme=dark; consent=all`;
  return findCookie(header, "SESSION")!;
}

function settle(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

function measure(label: string, keyOf: (i: number) => string): void {
  const clock = new ManualClock(1_700_000_000_000);
  const before = settle();
  const table = new BindingTable({ ttlMs: 30 * 60_000, maxEntries: entries, clock });
  for (let i = 0; i < entries; i++) {
    table.bind(keyOf(i), memberId(i));
    if ((i & 1023) === 0) clock.advance(1);
  }
  const filled = (settle() - before) / table.size;
  console.log(`${label}: ${table.size} entries, ${filled.toFixed(1)} bytes/entry`);

  const ops = 1_000_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) {
    clock.advance(1);
    if (i % 2 === 0) table.get(keyOf((i * 7919) % entries));
    else table.bind(keyOf(entries + i), memberId(i));
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const churned = (settle() - before) / table.size;
  console.log(
    `${label}: churn at the bound ${(ops / seconds / 1e6).toFixed(2)} M ops/s (half get, half bind ` +
      `evicting; key making included), ${churned.toFixed(1)} bytes/entry after churn, ` +
      `${table.evictions} evictions`,
  );
}

measure("SOURCE_IP (IPv4 keys)", sourceIpKey);
measure("APP_COOKIE (32-char keys)", appCookieKey);
