/**
 * The one entry point to the shared state store (docs/shared-state.md): builds the connection,
 * the shared binding store and the metrics from the configured URL. The runtime makes one at start
 * when a state store is configured, asks it for each sticky pool's bindings, and closes it on stop.
 */
import type { Clock } from "../core/clock.js";
import type { Logger } from "../core/log.js";
import { SharedBindingStore } from "./shared-binding-store.js";
import { SharedCookieKey } from "./shared-cookie-key.js";
import { DEFAULT_KEY_PREFIX, parseStateStoreUrl, readStorePasswordFile } from "./state-store-url.js";
import { type BackoffOptions, StoreConnection } from "./store-connection.js";
import { StateStoreMetrics } from "./store-metrics.js";

export { DEFAULT_KEY_PREFIX };

export interface StateStoreConfig {
  readonly url: string;
  readonly keyPrefix?: string;
  readonly passwordFile?: string;
}

export interface OpenStateStoreOptions extends StateStoreConfig {
  readonly log: Logger;
  readonly clock?: Clock;
  readonly lookupBudgetMs?: number;
  readonly flushIntervalMs?: number;
  readonly maxWriteBack?: number;
  readonly maxInFlightLookups?: number;
  readonly connectTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
  readonly backoff?: BackoffOptions;
}

export interface StateStore {
  readonly metrics: StateStoreMetrics;
  readonly connection: StoreConnection;
  readonly bindings: SharedBindingStore;
  /** The HTTP_COOKIE key when no cookieSecret is set; `fallback` is the state-folder key. */
  cookieKey(fallback: Buffer, startWaitMs?: number): Promise<SharedCookieKey>;
  close(): Promise<void>;
}

/**
 * Starts connecting and returns at once: a store that is down at start is the degraded state
 * described in docs/shared-state.md, not an error. Throws (control path) only for a bad URL or an
 * unreadable password file.
 */
export function openStateStore(options: OpenStateStoreOptions): StateStore {
  const parsed = parseStateStoreUrl(options.url);
  if (!parsed.ok) throw new Error(parsed.message);
  const password =
    options.passwordFile === undefined ? undefined : readStorePasswordFile(options.passwordFile);
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const metrics = new StateStoreMetrics();
  const log = options.log.child({ component: "state-store" });
  const connection = new StoreConnection({
    target: parsed.target,
    log,
    metrics,
    ...(password === undefined ? {} : { password }),
    ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
    ...(options.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: options.commandTimeoutMs }),
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
  });
  const bindings = new SharedBindingStore({
    connection,
    keyPrefix,
    log,
    metrics,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.lookupBudgetMs === undefined ? {} : { lookupBudgetMs: options.lookupBudgetMs }),
    ...(options.flushIntervalMs === undefined ? {} : { flushIntervalMs: options.flushIntervalMs }),
    ...(options.maxWriteBack === undefined ? {} : { maxWriteBack: options.maxWriteBack }),
    ...(options.maxInFlightLookups === undefined ? {} : { maxInFlightLookups: options.maxInFlightLookups }),
  });
  connection.start();
  const keys: SharedCookieKey[] = [];
  return {
    metrics,
    connection,
    bindings,
    async cookieKey(fallback, startWaitMs) {
      const key = await SharedCookieKey.start({
        connection,
        keyPrefix,
        log,
        metrics,
        fallback,
        ...(startWaitMs === undefined ? {} : { startWaitMs }),
        ...(options.clock === undefined ? {} : { clock: options.clock }),
      });
      keys.push(key);
      return key;
    },
    async close() {
      for (const k of keys) k.close();
      // Give queued writes a moment to reach the store, never more: a stop must not hang on it.
      await Promise.race([
        bindings.settle().catch(() => {}),
        new Promise((r) => setTimeout(r, 1000).unref()),
      ]);
      await bindings.close();
      await connection.close();
    },
  };
}
