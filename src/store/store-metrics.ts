/**
 * The state store's own counters (observability beside the component it measures). The store
 * only bumps plain numbers; `series()` declares what they mean as Prometheus series, read at
 * scrape time, so the admin side needs no knowledge of the store (see `prometheus-series.ts`).
 */

/** What was asked of the store. Fixed words: these become label values. */
export type StoreOp = "get" | "claim" | "bind" | "touch" | "delete" | "cookie_key";
/**
 * `ok`; `error` (the store answered with an error or the connection broke); `timeout` (no answer
 * within the lookup budget); `skipped` (not sent: the store is down or too many lookups are in flight).
 */
export type StoreResult = "ok" | "error" | "timeout" | "skipped";

const OPS: readonly StoreOp[] = ["get", "claim", "bind", "touch", "delete", "cookie_key"];
const RESULTS: readonly StoreResult[] = ["ok", "error", "timeout", "skipped"];

/** Seconds; from a loopback round trip (~100 µs) to well past the 50 ms lookup budget. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];

export interface SeriesSample {
  /** The full sample name (a histogram has `_bucket`, `_sum` and `_count` samples). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface DeclaredSeries {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly labelNames: readonly string[];
  /** How `--workers` combines the worker processes' values. */
  readonly aggregator: "sum" | "max";
  samples(): SeriesSample[];
}

export class StateStoreMetrics {
  /** 1 while the store answers commands. */
  up = 0;
  /** Local bindings not yet written to the store that were dropped at the write-back bound. */
  writeBackDropped = 0;
  /** Invalidation messages from other replicas applied to a local entry. */
  invalidationsApplied = 0;
  private readonly ops = new Map<string, number>();
  private readonly buckets = new Array<number>(LATENCY_BUCKETS.length).fill(0);
  private latencySum = 0;
  private latencyCount = 0;

  count(op: StoreOp, result: StoreResult, n = 1): void {
    const key = `${op}|${result}`;
    this.ops.set(key, (this.ops.get(key) ?? 0) + n);
  }

  /** One store round trip that got an answer (or an error), in seconds. */
  observe(seconds: number): void {
    this.latencySum += seconds;
    this.latencyCount++;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      if (seconds <= (LATENCY_BUCKETS[i] as number)) {
        this.buckets[i] = (this.buckets[i] as number) + 1;
        break;
      }
    }
  }

  operations(op: StoreOp, result: StoreResult): number {
    return this.ops.get(`${op}|${result}`) ?? 0;
  }

  series(): DeclaredSeries[] {
    return [
      {
        name: "stickylb_state_store_up",
        help: "1 while the shared state store (Redis/Valkey) answers, else 0.",
        type: "gauge",
        labelNames: [],
        aggregator: "max",
        samples: () => [{ name: "stickylb_state_store_up", labels: {}, value: this.up }],
      },
      {
        name: "stickylb_state_store_operations_total",
        help: "State store operations by op (get, bind, touch, delete, cookie_key) and result (ok, error, timeout, skipped).",
        type: "counter",
        labelNames: ["op", "result"],
        aggregator: "sum",
        samples: () => {
          const out: SeriesSample[] = [];
          for (const op of OPS) {
            for (const result of RESULTS) {
              const value = this.ops.get(`${op}|${result}`);
              if (value !== undefined) {
                out.push({ name: "stickylb_state_store_operations_total", labels: { op, result }, value });
              }
            }
          }
          return out;
        },
      },
      {
        name: "stickylb_state_store_latency_seconds",
        help: "Round-trip time of state store commands and pipelines.",
        type: "histogram",
        labelNames: [],
        aggregator: "sum",
        samples: () => {
          const name = "stickylb_state_store_latency_seconds";
          const out: SeriesSample[] = [];
          let cumulative = 0;
          LATENCY_BUCKETS.forEach((le, i) => {
            cumulative += this.buckets[i] as number;
            out.push({ name: `${name}_bucket`, labels: { le: String(le) }, value: cumulative });
          });
          out.push({ name: `${name}_bucket`, labels: { le: "+Inf" }, value: this.latencyCount });
          out.push({ name: `${name}_sum`, labels: {}, value: this.latencySum });
          out.push({ name: `${name}_count`, labels: {}, value: this.latencyCount });
          return out;
        },
      },
      {
        name: "stickylb_state_store_write_back_dropped_total",
        help: "Bindings made while the store was unreachable that were dropped at the write-back queue's bound.",
        type: "counter",
        labelNames: [],
        aggregator: "sum",
        samples: () => [
          { name: "stickylb_state_store_write_back_dropped_total", labels: {}, value: this.writeBackDropped },
        ],
      },
    ];
  }
}
