import type { Candidate } from "../../core/member.js";
import type { Algorithm } from "../../core/model.js";

/** What a policy may know about the client being placed. */
export interface PickContext {
  /** Normalised client IP (see `clientIpKey`); the SOURCE_IP hash key. */
  readonly clientIp: string;
  /**
   * A number that changes whenever any candidate's eligibility or weight may have changed (the
   * member registry's counter). When given, a policy that caches a table may trust it for the same
   * candidates array instead of re-checking every candidate.
   */
  readonly eligibilityVersion?: number;
}

/**
 * A balancing policy: pure and synchronous — no I/O, no timers, no `await` (docs/architecture.md).
 *
 * `pick` never returns an ineligible candidate and returns undefined when none is eligible.
 * A policy instance belongs to one pool and may keep state between picks (round-robin position),
 * but not the `ctx` it is given: the pool refills one context object for every pick.
 */
export interface BalancingPolicy {
  readonly algorithm: Algorithm;
  pick<C extends Candidate>(candidates: readonly C[], ctx: PickContext): C | undefined;
  /**
   * What `pick` would return now, changing nothing (no round-robin step, no tie cursor): the
   * admin API's explain answers "where would this client go" without moving the rotation.
   */
  peek<C extends Candidate>(candidates: readonly C[], ctx: PickContext): C | undefined;
}
