/**
 * The HTTP_COOKIE key shared through the store when no `cookieSecret` is given
 * (docs/shared-state.md). The first replica to reach the store offers its own state-folder key
 * with SET NX; every replica then reads and uses whatever the store holds. Offering the
 * state-folder key (not a fresh random one) means that turning the store on for an existing
 * single instance keeps its clients' cookies valid.
 *
 * A replica that cannot reach the store at start uses its state-folder key (so it starts, and its
 * cookies are valid at least on itself and across its own restarts), logs it, and switches to the
 * store's key as soon as the store answers: `onChange` then fires once.
 */
import { type Clock, systemClock } from "../core/clock.js";
import type { Logger } from "../core/log.js";
import { MIN_COOKIE_SECRET_BYTES } from "../runtime/cookie-key.js";
import type { StoreConnection } from "./store-connection.js";
import type { StateStoreMetrics } from "./store-metrics.js";
import { cookieKeyName } from "./stored-key.js";

export interface SharedCookieKeyOptions {
  readonly connection: StoreConnection;
  readonly keyPrefix: string;
  readonly log: Logger;
  readonly metrics: StateStoreMetrics;
  /** The state-folder key: used while the store is unreachable, and offered to the store. */
  readonly fallback: Buffer;
  /** How long start waits for the store before going on with the fallback. Default 2 s. */
  readonly startWaitMs?: number;
  /** The clock that wait is measured on; default the system clock. */
  readonly clock?: Clock;
}

export class SharedCookieKey {
  private key: Buffer;
  private fromStore = false;
  private readonly listeners = new Set<(key: Buffer) => void>();
  private readonly stopWatching: () => void;

  private constructor(private readonly options: SharedCookieKeyOptions) {
    this.key = options.fallback;
    this.stopWatching = options.connection.onStateChange((up) => {
      if (up && !this.fromStore) void this.fetch();
    });
  }

  /** Resolves with the store's key, or with the fallback after `startWaitMs` (never rejects). */
  static async start(options: SharedCookieKeyOptions): Promise<SharedCookieKey> {
    const shared = new SharedCookieKey(options);
    const wait = options.startWaitMs ?? 2000;
    const clock = options.clock ?? systemClock;
    const deadline = clock.now() + wait;
    while (!shared.fromStore && clock.now() < deadline) {
      if (options.connection.up) {
        if (await shared.fetch()) break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!shared.fromStore) {
      options.log.warn(
        "state store unreachable at start: HTTP_COOKIE uses the state-folder key until the store answers",
      );
    }
    return shared;
  }

  /** The key to sign and verify cookies with now. */
  get current(): Buffer {
    return this.key;
  }

  get shared(): boolean {
    return this.fromStore;
  }

  /** Called when the key changes (once, when a replica that started on its fallback reaches the store). */
  onChange(listener: (key: Buffer) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.stopWatching();
  }

  private async fetch(): Promise<boolean> {
    const { connection, keyPrefix, metrics, log, fallback } = this.options;
    const name = cookieKeyName(keyPrefix);
    const client = connection.client;
    let stored: Buffer | null;
    const start = performance.now();
    try {
      await client.set(name, fallback, "NX");
      stored = await client.getBuffer(name);
      metrics.observe((performance.now() - start) / 1000);
      metrics.count("cookie_key", "ok");
    } catch {
      metrics.observe((performance.now() - start) / 1000);
      metrics.count("cookie_key", "error");
      return false;
    }
    if (stored === null || stored.length < MIN_COOKIE_SECRET_BYTES) {
      // Never replace it: another replica may be using it. Say so and keep the local key.
      log.error(
        { key: name, bytes: stored?.length ?? 0 },
        "the cookie key in the state store is missing or shorter than 32 bytes; using the state-folder key",
      );
      return false;
    }
    const changed = !stored.equals(this.key);
    this.key = stored;
    this.fromStore = true;
    if (changed) {
      log.info("HTTP_COOKIE key taken from the state store");
      for (const l of this.listeners) l(stored);
    }
    return true;
  }
}
