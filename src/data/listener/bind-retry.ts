/**
 * What the listener set knows about a listener that could not bind, and when it tries again. A
 * port held by another process, a privileged port without the capability, an address not (yet)
 * on any interface: each can clear by itself (the other process exits, the address is added), so
 * the bind is retried with a doubling delay rather than given up, and the delay is capped so that
 * a freed port is taken within half a minute. See docs/operations.md.
 */
import type { Logger } from "../../core/log.js";
import type { ListenerModel } from "../../core/model.js";

/** First retry after this long; each further one waits twice as long, up to the cap. */
export const BIND_RETRY_FIRST_MS = 1000;
export const BIND_RETRY_MAX_MS = 30_000;

/** The delay before the next bind attempt, given the delay before this one (none: the first). */
export function nextBindDelay(previousMs: number | undefined): number {
  return previousMs === undefined ? BIND_RETRY_FIRST_MS : Math.min(BIND_RETRY_MAX_MS, previousMs * 2);
}

/** Timers the retries run on; injected in unit tests so that no test waits for a real backoff. */
export interface RetryTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** Real timers that never keep the process alive on their own. */
export const REAL_RETRY_TIMERS: RetryTimers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Whether a listener of the current configuration holds its socket, and if not why. */
export type BindState =
  | { readonly bound: true }
  | {
      readonly bound: false;
      /** The system's reason, e.g. `listen EADDRINUSE: address already in use 127.0.0.1:80`. */
      readonly error: string;
      /** The errno name (`EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`) when there is one. */
      readonly code: string | undefined;
      /** Bind attempts that failed so far. */
      readonly attempts: number;
      /** Delay before the next attempt. */
      readonly retryInMs: number;
    };

/** Told when a listener goes from bound to failing, from failing to bound, or fails differently. */
export type BindObserver = (listener: ListenerModel, state: BindState) => void;

/** A listener of the configuration that could not bind, waiting for its next attempt. */
interface FailedBind {
  readonly error: string;
  readonly code: string | undefined;
  readonly attempts: number;
  readonly delayMs: number;
  readonly timer: unknown;
}

/**
 * The failed binds of a set of listeners by bind key, and their retries: kept with the system's
 * reason, logged once per change (`SLB_ERR_DATA_BIND`; a port held for an hour is one warning, not
 * 120), retried on the schedule above through `retry`. The listener set of a process and the
 * `--workers` primary's acceptors share it, so that both behave the same way.
 */
export class BindRetries {
  private readonly failed = new Map<string, FailedBind>();
  /** Keys with an attempt under way, so that a retry and a reload never bind one key twice. */
  private readonly binding = new Set<string>();

  constructor(
    private readonly log: Logger,
    private readonly timers: RetryTimers,
    /** Makes the next attempt for a key (called by the timer). */
    private readonly retry: (key: string) => void,
    /** Told when a listener starts failing or fails differently. */
    private readonly changed: BindObserver = () => {},
  ) {}

  /**
   * One bind attempt for `key`, unless one is under way: the bound value, or undefined when it
   * failed (then recorded and retried, if `wanted` still holds) or another attempt is running.
   */
  async attempt<T>(
    key: string,
    model: ListenerModel,
    bind: () => Promise<T>,
    wanted: () => boolean,
  ): Promise<T | undefined> {
    if (this.binding.has(key)) return undefined;
    this.binding.add(key);
    try {
      return await bind();
    } catch (err) {
      if (!wanted()) this.drop(key);
      else {
        const state = this.failedAttempt(key, model, err as Error);
        if (state !== undefined) this.changed(model, state);
      }
      return undefined;
    } finally {
      this.binding.delete(key);
    }
  }

  /**
   * Records a failed attempt and schedules the next one. Returns the listener's new state when it
   * changed (first failure, or another reason), for the caller's observers; undefined otherwise.
   */
  private failedAttempt(key: string, model: ListenerModel, err: Error): BindState | undefined {
    const previous = this.failed.get(key);
    if (previous !== undefined) this.timers.clear(previous.timer);
    const error = err.message;
    const delayMs = nextBindDelay(previous?.delayMs);
    const entry: FailedBind = {
      error,
      code: (err as NodeJS.ErrnoException).code,
      attempts: (previous?.attempts ?? 0) + 1,
      delayMs,
      timer: this.timers.set(() => this.retry(key), delayMs),
    };
    this.failed.set(key, entry);
    const fields = {
      code: "SLB_ERR_DATA_BIND",
      listener: model.name,
      protocol: model.protocol,
      address: model.address,
      port: model.port,
      object: model.source.object,
      error,
      attempts: entry.attempts,
      retryInMs: delayMs,
    };
    if (previous !== undefined && previous.error === error) {
      this.log.debug(fields, "listener still cannot bind");
      return undefined;
    }
    this.log.warn(fields, "listener cannot bind; retrying with backoff, the other listeners serve");
    return this.state(key);
  }

  /** Forgets a key's failure once it bound; returns how many attempts had failed (undefined: none). */
  bound(key: string): number | undefined {
    const failed = this.failed.get(key);
    this.failed.delete(key);
    return failed?.attempts;
  }

  /** Cancels the scheduled attempt of a key that is about to be tried at once (a reload). */
  cancel(key: string): void {
    const failed = this.failed.get(key);
    if (failed !== undefined) this.timers.clear(failed.timer);
  }

  /** Stops retrying a key (its listener left the configuration); true when it was waiting. */
  drop(key: string): boolean {
    const failed = this.failed.get(key);
    if (failed === undefined) return false;
    this.timers.clear(failed.timer);
    this.failed.delete(key);
    return true;
  }

  /** Stops every retry (the process stops). */
  dropAll(): void {
    for (const key of [...this.failed.keys()]) this.drop(key);
  }

  has(key: string): boolean {
    return this.failed.has(key);
  }

  /** Why a key cannot bind now; undefined when it is not waiting for a retry. */
  state(key: string): BindState | undefined {
    const failed = this.failed.get(key);
    if (failed === undefined) return undefined;
    const { error, code, attempts, delayMs } = failed;
    return { bound: false, error, code, attempts, retryInMs: delayMs };
  }

  /** The keys waiting for a retry, with the system's reason. */
  *waiting(): IterableIterator<{ key: string; error: string }> {
    for (const [key, f] of this.failed) yield { key, error: f.error };
  }
}
