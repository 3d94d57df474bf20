/**
 * Keeps the store's TTL of one pool's bindings in step with the traffic this replica sees
 * (docs/shared-state.md, "Idle lapse"): traffic on a cached key is remembered, and at each flush
 * the keys whose TTL this replica has not set within the refresh period ({@link RecentRefreshes})
 * get their TTL set to persistenceTimeout + that period (one script per slice on a standalone
 * server, one `PEXPIRE` per key in a cluster). Held keys (open connections) are offered
 * at every flush, so a binding in active use never lapses; a refresh that finds the key gone hands
 * it back to the pool, which writes its binding again.
 *
 * The refreshes leave {@link REFRESH_SLICE} at a time, each slice answered before the next, so a
 * flush of many keys neither blocks the event loop nor floods the store; while one is still being
 * sent, the next flush leaves its keys for the one after.
 */
import { performance } from "node:perf_hooks";
import type { Clock } from "../core/clock.js";
import { RecentRefreshes } from "./recent-refreshes.js";
import type { StoreLink } from "./store-link.js";
import { bindingKey } from "./stored-key.js";

/** Refresh commands sent together; the next slice leaves when this one is answered. */
export const REFRESH_SLICE = 128;

export interface TtlRefresherOptions {
  readonly pool: string;
  /** The TTL each refresh sets (persistenceTimeout + refresh period). */
  readonly storeTtlMs: number;
  /** Generation length of the recent set (`refreshTiming`). */
  readonly generationMs: number;
  /** Bound of the remembered keys (the pool's local bound). */
  readonly maxEntries: number;
  readonly clock: Clock;
  /** A refreshed key was not in the store any more. */
  readonly onGone: (storedKey: string) => void;
}

export class TtlRefresher {
  /** Keys with traffic since the last flush that were not refreshed recently. Bounded. */
  private readonly touched = new Set<string>();
  /** Keys whose TTL in the store this replica set within the last refresh period. */
  private readonly recent: RecentRefreshes;
  private refreshing = false;

  constructor(
    private readonly link: StoreLink,
    private readonly options: TtlRefresherOptions,
  ) {
    this.recent = new RecentRefreshes(options.generationMs, options.maxEntries, options.clock);
  }

  /**
   * Traffic on a cached key. Past the bound a touch is not remembered, which is harmless: the set
   * only grows that large after an outage, whose resync refreshes every cached key anyway.
   */
  touch(storedKey: string): void {
    if (this.touched.size < this.options.maxEntries && !this.recent.has(storedKey)) {
      this.touched.add(storedKey);
    }
  }

  /** The store's TTL of this key was just set (a claim, a write): no refresh is due for a period. */
  refreshed(storedKey: string): void {
    this.recent.add(storedKey);
  }

  forget(storedKey: string): void {
    this.touched.delete(storedKey);
    this.recent.delete(storedKey);
  }

  /** Sends the refreshes now due: keys touched since the last flush, and `held` ones. */
  flush(held: Iterable<string>): void {
    if (this.refreshing) return;
    this.recent.roll();
    const due: string[] = [];
    for (const sk of this.touched) this.addDue(sk, due);
    this.touched.clear();
    for (const sk of held) this.addDue(sk, due);
    if (due.length === 0) return;
    this.refreshing = true;
    void this.send(due).finally(() => {
      this.refreshing = false;
    });
  }

  private addDue(sk: string, due: string[]): void {
    if (this.recent.has(sk)) return;
    // Marked now, so that the same key is not sent twice in one flush or again by the next one.
    this.recent.add(sk);
    due.push(sk);
  }

  /**
   * Refreshes one slice: one script for all its keys on a standalone server, one `PEXPIRE` per
   * key in a cluster (where they span slots; ioredis pipelines them per node). Per key: `ok`,
   * `gone` (not in the store) or `error`.
   */
  private async refreshSlice(slice: readonly string[]): Promise<("ok" | "gone" | "error")[]> {
    const { link, options } = this;
    const keys = slice.map((sk) => bindingKey(link.keyPrefix, options.pool, sk));
    if (!link.connection.cluster) {
      try {
        const states = new Array<"ok" | "gone" | "error">(slice.length).fill("ok");
        for (const position of await link.client.stickylbTouch(keys.length, ...keys, options.storeTtlMs)) {
          states[position - 1] = "gone";
        }
        return states;
      } catch {
        return new Array(slice.length).fill("error");
      }
    }
    const answers = await Promise.allSettled(keys.map((key) => link.client.pexpire(key, options.storeTtlMs)));
    return answers.map((a) => (a.status === "rejected" ? "error" : a.value === 1 ? "ok" : "gone"));
  }

  private async send(due: string[]): Promise<void> {
    const { link, options } = this;
    for (let i = 0; i < due.length; i += REFRESH_SLICE) {
      if (!link.connection.up) {
        // The resync after the outage offers every cached key again.
        for (let j = i; j < due.length; j++) this.recent.delete(due[j] as string);
        return;
      }
      const slice = due.slice(i, i + REFRESH_SLICE);
      const start = performance.now();
      const states = await this.refreshSlice(slice);
      // One observation per slice: its keys travel together and are answered together.
      link.metrics.observe((performance.now() - start) / 1000);
      let failed = 0;
      for (let j = 0; j < slice.length; j++) {
        const sk = slice[j] as string;
        const state = states[j];
        if (state === "error") {
          failed++;
          // Due again at the next flush.
          this.recent.delete(sk);
        } else if (state === "gone") {
          options.onGone(sk);
        }
      }
      link.metrics.count("touch", "ok", slice.length - failed);
      if (failed > 0) link.metrics.count("touch", "error", failed);
    }
  }
}
