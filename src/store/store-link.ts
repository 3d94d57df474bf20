/**
 * What every part of the shared bindings needs of the store (docs/shared-state.md): the client with
 * its scripts, the up/down state, the metrics, the key prefix and the invalidation channel, this
 * replica's id, and the one way a round trip is timed and counted. One per state store, made by
 * `SharedBindingStore` and handed to its write-back queue, its subscriber and its pools.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Clock } from "../core/clock.js";
import type { Logger } from "../core/log.js";
import type { StoreConnection } from "./store-connection.js";
import type { StateStoreMetrics, StoreOp } from "./store-metrics.js";
import { type ScriptedClient, withScripts } from "./store-scripts.js";
import { invalidationChannel } from "./stored-key.js";

/** The default wait for a store answer a client waits for, after which it is served without it. */
export const LOOKUP_BUDGET_MS = 50;

export class StoreLink {
  /** Tells this replica's invalidation messages from the others' (it ignores its own). */
  readonly replicaId = randomBytes(8).toString("base64url");
  readonly client: ScriptedClient;
  readonly channel: string;
  /** Questions (claims, lookups) waiting for the store now, over all pools. */
  inFlight = 0;

  constructor(
    readonly connection: StoreConnection,
    readonly keyPrefix: string,
    readonly metrics: StateStoreMetrics,
    readonly log: Logger,
    readonly clock: Clock,
    /** How long a client may wait for the store (a claim, a held response). */
    readonly budgetMs: number,
    /** Questions waiting at once; beyond it a new client is placed without asking. */
    readonly maxInFlight: number,
  ) {
    this.client = withScripts(connection.client);
    this.channel = invalidationChannel(keyPrefix);
  }

  /** A timed round trip, counted under `op`. */
  async timed<T>(op: StoreOp, run: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      const result = await run();
      this.metrics.observe((performance.now() - start) / 1000);
      this.metrics.count(op, "ok");
      return result;
    } catch (err) {
      this.metrics.observe((performance.now() - start) / 1000);
      this.metrics.count(op, "error");
      throw err;
    }
  }

  /** Whether a question may be sent now (counted as `skipped` under `op` when not). */
  mayAsk(op: StoreOp): boolean {
    if (this.connection.up && this.inFlight < this.maxInFlight) return true;
    this.metrics.count(op, "skipped");
    return false;
  }

  /**
   * Sends a question a client waits for: resolves to its answer, or to `undefined` on an error or
   * when no answer came within the budget (`onLate` then gets the answer when it arrives). Never
   * rejects. The caller has checked {@link mayAsk}.
   */
  ask<T>(op: StoreOp, run: () => Promise<T>, onLate?: (answer: T) => void): Promise<T | undefined> {
    this.inFlight++;
    const start = performance.now();
    return new Promise<T | undefined>((resolve) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        this.metrics.count(op, "timeout");
        resolve(undefined);
      }, this.budgetMs);
      let sent: Promise<T>;
      try {
        sent = run();
      } catch (err) {
        // A client that throws instead of rejecting must not break "never rejects".
        sent = Promise.reject(err);
      }
      sent.then(
        (answer) => {
          this.inFlight--;
          this.metrics.observe((performance.now() - start) / 1000);
          if (done) {
            // Counted as a timeout; the client was served without it meanwhile.
            onLate?.(answer);
            return;
          }
          done = true;
          clearTimeout(timer);
          this.metrics.count(op, "ok");
          resolve(answer);
        },
        () => {
          this.inFlight--;
          this.metrics.observe((performance.now() - start) / 1000);
          if (done) return;
          done = true;
          clearTimeout(timer);
          this.metrics.count(op, "error");
          resolve(undefined);
        },
      );
    });
  }

  /** The invalidation message for a change made by this replica (`member` undefined: removed). */
  message(pool: string, storedKey: string, member: string | undefined): string {
    return JSON.stringify([this.replicaId, pool, storedKey, member ?? null]);
  }
}
