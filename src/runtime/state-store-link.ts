/**
 * The runtime's link to the shared state store (docs/shared-state.md): opens the store once for
 * the configuration in effect (the `--state-store` flag's URL wins over `spec.stateStore.url`),
 * keeps it across reloads, and replaces it only when the URL, the key prefix or the password file
 * changes. A store that is down at start is not an error: the store module reports it (one log
 * line per state change) and every replica serves from its local tables meanwhile.
 */
import type { Clock } from "../core/clock.js";
import type { Logger } from "../core/log.js";
import type { ConfigModel, StateStoreModel } from "../core/model.js";
import type { SharedCookieKey } from "../store/shared-cookie-key.js";
import { DEFAULT_KEY_PREFIX, openStateStore, type StateStore } from "../store/state-store.js";
import { redactStateStoreUrl } from "../store/state-store-url.js";

/** What the status page and the dashboard show of the store. */
export interface StateStoreView {
  /** The URL with any password masked. */
  readonly url: string;
  readonly up: boolean;
}

/** What {@link StateStoreLink.reconcile} changed, and how to undo it if the configuration is refused. */
export interface StoreChange {
  readonly changed: boolean;
  /** The store replaced: to be closed once the new snapshot is in service. */
  readonly retired: StateStore | undefined;
  rollback(): void;
}

export class StateStoreLink {
  private store: StateStore | undefined;
  private config: StateStoreModel | undefined;
  private key: SharedCookieKey | undefined;
  private keyFor: StateStore | undefined;

  constructor(
    private readonly log: Logger,
    /** The runtime's clock: the store's local caches, refresh batches and start wait run on it. */
    private readonly clock: Clock,
    /** `--state-store URL`: wins over the configuration's URL. */
    private readonly flagUrl: string | undefined,
    /** The wait for a store answer on a local miss; the store's default (50 ms) when undefined. */
    private readonly lookupBudgetMs?: number,
  ) {}

  /** The store in effect, if one is configured. */
  get current(): StateStore | undefined {
    return this.store;
  }

  get view(): StateStoreView | undefined {
    if (this.store === undefined || this.config === undefined) return undefined;
    return { url: redactStateStoreUrl(this.config.url), up: this.store.connection.up };
  }

  /** The store configuration a model asks for, with the flag applied. */
  wanted(model: ConfigModel): StateStoreModel | undefined {
    return withStateStoreFlag(model, this.flagUrl).stateStore;
  }

  /**
   * Makes the store of `model` the current one. Returns the store it replaces (to be closed once
   * the new snapshot is in service), or undefined when nothing changed. Throws, changing nothing,
   * for an unreadable password file.
   */
  reconcile(model: ConfigModel): StoreChange {
    const next = this.wanted(model);
    if (sameConfig(next, this.config)) return { changed: false, retired: undefined, rollback: () => {} };
    const opened =
      next === undefined
        ? undefined
        : openStateStore({
            clock: this.clock,
            url: next.url,
            keyPrefix: next.keyPrefix,
            ...(next.passwordFile === undefined ? {} : { passwordFile: next.passwordFile }),
            ...(this.lookupBudgetMs === undefined ? {} : { lookupBudgetMs: this.lookupBudgetMs }),
            log: this.log,
          });
    const retired = this.store;
    const before = { config: this.config, key: this.key, keyFor: this.keyFor };
    this.store = opened;
    this.config = next;
    if (next !== undefined) {
      this.log.info(
        { store: redactStateStoreUrl(next.url), keyPrefix: next.keyPrefix },
        "state store configured: bindings and the cookie key are shared",
      );
    }
    return {
      changed: true,
      retired,
      rollback: () => {
        // The configuration was refused after all: the previous store stays in service.
        this.store = retired;
        this.config = before.config;
        this.key = before.key;
        this.keyFor = before.keyFor;
        void opened?.close().catch(() => {});
      },
    };
  }

  /**
   * The HTTP_COOKIE key from the store (offering `fallback`, the state-folder key), asked once per
   * store; `onChange` is called when the store's key replaces the one in use.
   */
  async cookieKey(fallback: Buffer, onChange: (key: Buffer) => void): Promise<Buffer | undefined> {
    const store = this.store;
    if (store === undefined) return undefined;
    if (this.keyFor !== store || this.key === undefined) {
      const key = await store.cookieKey(fallback);
      this.key = key;
      this.keyFor = store;
      key.onChange((k) => {
        if (this.key === key) onChange(k);
      });
    }
    return this.key.current;
  }

  async close(): Promise<void> {
    const store = this.store;
    this.store = undefined;
    this.config = undefined;
    this.key = undefined;
    await store?.close();
  }
}

function sameConfig(a: StateStoreModel | undefined, b: StateStoreModel | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.url === b.url && a.keyPrefix === b.keyPrefix && a.passwordFile === b.passwordFile;
}

/** `model` with the `--state-store` flag's URL in place of its own (prefix and password file kept). */
export function withStateStoreFlag(model: ConfigModel, flagUrl: string | undefined): ConfigModel {
  if (flagUrl === undefined) return model;
  const fromModel = model.stateStore;
  return {
    ...model,
    stateStore: {
      url: flagUrl,
      keyPrefix: fromModel?.keyPrefix ?? DEFAULT_KEY_PREFIX,
      ...(fromModel?.passwordFile === undefined ? {} : { passwordFile: fromModel.passwordFile }),
    },
  };
}

/**
 * `STICKYLB_TEST_STORE_BUDGET_MS`, for tests only: end-to-end tests on a loaded machine lengthen the
 * 50 ms lookup budget so that they check what replicas share, not how fast the machine is.
 */
export function testLookupBudget(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.STICKYLB_TEST_STORE_BUDGET_MS;
  if (raw === undefined || !/^\d{1,5}$/.test(raw)) return undefined;
  return Number(raw);
}
