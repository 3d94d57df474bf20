/**
 * Passive ejection of members in pools without a health monitor, after HAProxy's `observe layer4`
 * and Envoy's outlier detection: without it a dead member stays eligible for ever and every new
 * client placed on it pays a failed connect first.
 *
 * {@link EJECT_AFTER_FAILURES} consecutive connect failures, each within
 * {@link FAILURE_WINDOW_MS} of the previous one, take a member out for a backoff period
 * that starts at {@link FIRST_EJECTION_MS} and doubles with each ejection up to
 * {@link MAX_EJECTION_MS}. When it ends the member is eligible again, on trial (half-open): the
 * next connect decides. A success ends the trial and resets the backoff; a failure ejects it again
 * at once for the next, longer period. Pools with a monitor never come here: their passive
 * failures count towards `maxRetriesDown` and only probes bring a member back (docs/health.md).
 */
import type { Clock } from "../core/clock.js";
import type { MemberId } from "../core/member.js";
import type { MemberRuntime } from "../data/upstream/member-runtime.js";
import type { Transition } from "./health-state.js";
import type { TimerHandle, Timers } from "./timers.js";

/** Consecutive connect failures that eject a member (HAProxy's `error-limit` defaults to 10 for
 * all errors; connect failures alone are a much stronger sign, so fewer are needed). */
export const EJECT_AFTER_FAILURES = 3;
/** The first ejection's length; long enough to spare clients, short enough for a restart. */
export const FIRST_EJECTION_MS = 10_000;
/** The longest ejection: a member that keeps failing is still tried every few minutes. */
export const MAX_EJECTION_MS = 160_000;
/**
 * A failure further than this from the previous one starts the count over. Successes normally do
 * that, but with `--workers N` only one worker's successes reach the health checks: without a
 * window, three failures spread over a day would eject a member.
 */
export const FAILURE_WINDOW_MS = 10_000;

interface Outlier {
  failures: number;
  lastFailureAt: number;
  /** Ejections since the member last served a connect; sets the next backoff. */
  ejections: number;
  /** Back from an ejection and not yet confirmed by a successful connect. */
  onTrial: boolean;
  timer: TimerHandle | undefined;
}

/** What a member's passive state looks like (tests, admin). */
export interface OutlierView {
  readonly failures: number;
  readonly ejections: number;
  readonly ejected: boolean;
  readonly onTrial: boolean;
}

/** The backoff of the `n`-th ejection in a row (1-based). */
export function ejectionMs(n: number): number {
  return Math.min(MAX_EJECTION_MS, FIRST_EJECTION_MS * 2 ** Math.min(n - 1, 30));
}

export class PassiveEjection {
  /** Only members that have failed since their last success have an entry: bounded by the registry. */
  private readonly outliers = new Map<MemberId, Outlier>();

  /** `write` logs the change and writes it through the health status port. */
  constructor(
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly write: (member: MemberRuntime, t: Transition) => void,
  ) {}

  connectFailed(member: MemberRuntime, reason: string): void {
    let o = this.outliers.get(member.id);
    if (o === undefined) {
      o = { failures: 0, lastFailureAt: 0, ejections: 0, onTrial: false, timer: undefined };
      this.outliers.set(member.id, o);
    }
    if (o.timer !== undefined) return; // Ejected already: a connect that was under way as it happened.
    const now = this.clock.now();
    if (now - o.lastFailureAt > FAILURE_WINDOW_MS) o.failures = 0;
    o.lastFailureAt = now;
    o.failures++;
    member.consecutiveFailures = o.failures;
    if (!o.onTrial && o.failures < EJECT_AFTER_FAILURES) return;
    o.ejections++;
    o.onTrial = false;
    o.failures = 0;
    const ms = ejectionMs(o.ejections);
    const why = o.ejections === 1 ? `${EJECT_AFTER_FAILURES} consecutive` : "a trial";
    this.write(member, {
      healthy: false,
      reason: `passive: ${why} connect failure(s), last: ${reason}; ejected for ${ms / 1000}s`,
    });
    o.timer = this.timers.after(ms, () => {
      o.timer = undefined;
      o.onTrial = true;
      this.write(member, {
        healthy: true,
        reason: "passive: ejection ended, on trial until the next connect",
      });
    });
  }

  connectSucceeded(member: MemberRuntime): void {
    const o = this.outliers.get(member.id);
    if (o === undefined || o.timer !== undefined) return;
    member.consecutiveFailures = 0;
    this.outliers.delete(member.id);
  }

  view(id: MemberId): OutlierView | undefined {
    const o = this.outliers.get(id);
    if (o === undefined) return undefined;
    return {
      failures: o.failures,
      ejections: o.ejections,
      ejected: o.timer !== undefined,
      onTrial: o.onTrial,
    };
  }

  /** Whether the member is out now because of passive failures. */
  ejected(id: MemberId): boolean {
    return this.outliers.get(id)?.timer !== undefined;
  }

  /**
   * Forgets a member (gone from the configuration, or its pool got a monitor that takes over).
   * It is not set healthy here: the caller decides.
   */
  forget(id: MemberId): void {
    const o = this.outliers.get(id);
    o?.timer?.cancel();
    this.outliers.delete(id);
  }

  /** Ids of every member with passive state. */
  ids(): IterableIterator<MemberId> {
    return this.outliers.keys();
  }

  stop(): void {
    for (const o of this.outliers.values()) o.timer?.cancel();
    this.outliers.clear();
  }
}
