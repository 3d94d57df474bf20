/**
 * What the listener set knows about a listener that could not bind, and when it tries again. A
 * port held by another process, a privileged port without the capability, an address not (yet)
 * on any interface: each can clear by itself (the other process exits, the address is added), so
 * the bind is retried with a doubling delay rather than given up, and the delay is capped so that
 * a freed port is taken within half a minute. See docs/operations.md.
 */
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
