/**
 * Which keys this replica set the store's TTL of recently (a claim, a write, a refresh), so that
 * traffic on them needs no refresh yet (docs/shared-state.md, "Idle lapse"). Refreshing every key
 * with traffic on every flush cost one command per active key per second: at thousands of active
 * sessions a flush blocked the event loop for tens of milliseconds, and the store did work that
 * the key's TTL did not need.
 *
 * The store keeps a binding for persistenceTimeout + one refresh period (`refreshPeriodMs`), so a
 * key refreshed less than one period ago outlives any traffic seen since by at least the timeout.
 * Two generations of sets say "refreshed within the period" without a timestamp per key: a key is
 * recent while it is in the current or the previous generation, and the generations move on at a
 * flush (`roll`), so a key stays recent for at most two generations plus the flush's lateness —
 * which {@link refreshTiming} keeps within the period. Each set is bounded; a key that finds no
 * room is simply refreshed again at the next flush.
 */
import type { Clock } from "../core/clock.js";

/** The longest the store keeps a binding beyond its persistence timeout. */
export const MAX_REFRESH_PERIOD_MS = 60_000;

export interface RefreshTiming {
  /** How much longer than the persistence timeout the store keeps a binding after its last refresh. */
  readonly refreshPeriodMs: number;
  /** How long one generation of {@link RecentRefreshes} lasts (0: every flush). */
  readonly generationMs: number;
}

/**
 * A sixteenth of the persistence timeout, between two flush intervals and one minute: a key in
 * steady use costs one store command per half period to a period, and the store lets a binding
 * lapse at most that much later than the timeout, never earlier.
 */
export function refreshTiming(ttlMs: number, flushIntervalMs: number): RefreshTiming {
  const refreshPeriodMs = Math.max(
    2 * flushIntervalMs,
    Math.min(Math.floor(ttlMs / 16), MAX_REFRESH_PERIOD_MS),
  );
  // Recent for at most 2 generations + 2 flush intervals (each roll may come one flush late).
  const generationMs = Math.max(0, Math.floor(refreshPeriodMs / 2) - flushIntervalMs);
  return { refreshPeriodMs, generationMs };
}

export class RecentRefreshes {
  private current = new Set<string>();
  private previous = new Set<string>();
  private started: number;

  constructor(
    private readonly generationMs: number,
    private readonly max: number,
    private readonly clock: Clock,
  ) {
    this.started = clock.now();
  }

  has(key: string): boolean {
    return this.current.has(key) || this.previous.has(key);
  }

  add(key: string): void {
    if (this.current.size < this.max) this.current.add(key);
  }

  delete(key: string): void {
    this.current.delete(key);
    this.previous.delete(key);
  }

  clear(): void {
    this.current.clear();
    this.previous.clear();
  }

  /** Called at each flush: starts a new generation once the current one is old enough. */
  roll(): void {
    const now = this.clock.now();
    if (now - this.started < this.generationMs) return;
    this.previous = this.current;
    this.current = new Set();
    this.started = now;
  }
}
