/**
 * Heap cost of a full binding table, in bytes per entry, for the two kinds of keys stickylb
 * stores: client IPv4 addresses (SOURCE_IP persistence) and 32-character application cookie
 * values (APP_COOKIE). The figure includes the key strings, which in production are allocated by
 * the socket or header parser anyway, and the table's own `Map` and entry objects.
 *
 * Run: node --expose-gc dist/bench/binding-memory.js [entries]   (after `npm run build`)
 */
import { BindingTable } from "../src/data/affinity/binding-table.js";
import { ManualClock } from "../src/core/clock.js";

type Gc = () => void;
const gc = (globalThis as { gc?: Gc }).gc;
if (gc === undefined) {
  console.error("run with node --expose-gc");
  process.exit(2);
}

const entries = Number(process.argv[2] ?? 1_000_000);
const members = Array.from({ length: 10 }, (_, i) => `web/10.0.0.${i + 1}:8080`);

function ipv4(i: number): string {
  return `${10 + ((i >>> 24) & 0xff)}.${(i >>> 16) & 0xff}.${(i >>> 8) & 0xff}.${i & 0xff}`;
}

function cookie32(i: number): string {
  // A 32-character hex value, like a typical session id; a fresh string per key, as a parser makes.
  return (i.toString(16).padStart(8, "0") + "0123456789abcdef01234567").slice(0, 32);
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
    // Copy the member id so interning, not the test's shared constants, is what is measured.
    table.bind(keyOf(i), `${members[i % members.length]}`);
    if ((i & 1023) === 0) clock.advance(1);
  }
  const after = settle();
  const perEntry = (after - before) / entries;
  console.log(`${label}: ${table.size} entries, ${perEntry.toFixed(1)} bytes/entry`);

  // Churn: touches and evictions at the bound, which leave holes in the Map until it rehashes.
  const ops = 1_000_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) {
    clock.advance(1);
    if (i % 2 === 0) table.get(keyOf((i * 7919) % entries));
    else table.bind(keyOf(entries + i), members[i % members.length]!);
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const afterChurn = settle();
  console.log(
    `${label}: churn ${(ops / (ns / 1e9) / 1e6).toFixed(2)} M ops/s (half get, half bind-with-evict), ` +
      `${((afterChurn - before) / table.size).toFixed(1)} bytes/entry after churn, evictions ${table.evictions}`,
  );
}

measure("SOURCE_IP (IPv4 keys)", ipv4);
measure("APP_COOKIE (32-char keys)", cookie32);
