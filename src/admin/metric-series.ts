/**
 * How the admin metrics declare a series (docs/reference/admin-api.md): a prom-client counter or
 * gauge whose samples are filled at scrape time from counters the data path keeps anyway (a
 * `collect` callback), so serving traffic never calls prom-client.
 */
import { type Aggregator, Counter, Gauge, type Registry } from "prom-client";
import type { MemberRuntime } from "../data/upstream/member-runtime.js";

export type Labels = Record<string, string | number>;
export type Emit = (labels: Labels, value: number) => void;
export type Fill = (emit: Emit) => void;

export const memberLabels = (m: MemberRuntime): Labels => ({ pool: m.pool, member: m.endpoint });

/** One sample per entry of `values`, the entry's name in label `label` beside `labels`. */
export function emitEach(emit: Emit, labels: Labels, label: string, values: Record<string, number>): void {
  for (const [value, n] of Object.entries(values)) emit({ ...labels, [label]: value }, n);
}

/** Declares series on one registry. */
export interface SeriesDeclarer {
  counter(name: string, help: string, labelNames: string[], fill: Fill): void;
  /**
   * `aggregator` says how `--workers` sums a gauge over worker processes (prom-client's
   * AggregatorRegistry; the default is a sum, right for counts of open things).
   */
  gauge(name: string, help: string, labelNames: string[], fill: Fill, aggregator?: Aggregator): void;
}

export function seriesOn(registry: Registry): SeriesDeclarer {
  const counter = (name: string, help: string, labelNames: string[], fill: Fill): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill((labels, value) => this.inc(labels, value));
      },
    });
  };
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    fill: Fill,
    aggregator?: Aggregator,
  ): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      ...(aggregator === undefined ? {} : { aggregator }),
      collect() {
        this.reset();
        fill((labels, value) => this.set(labels, value));
      },
    });
  };
  return { counter, gauge };
}
