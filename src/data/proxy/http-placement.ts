/**
 * Chooses the member of one HTTP request by the pool's persistence type and, once a member has
 * answered, does the bookkeeping its response calls for (cookie to insert, binding to learn). The
 * three key extractors live in data/affinity; this is only the switch between them.
 */
import { type AppCookieDecision, learnAppCookie, placeByAppCookie } from "../affinity/app-cookie-affinity.js";
import {
  type HttpCookieDecision,
  httpCookieToSet,
  placeByHttpCookie,
} from "../affinity/http-cookie-affinity.js";
import type { Placement } from "../affinity/resolver.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { PoolRuntime } from "../upstream/pool-runtime.js";
import { headerValues } from "./http-headers.js";

export interface StickyRequest {
  readonly placement: Placement;
  /** The request moves to `member` after a failure of the placed one (SPEC 6.3 retry). */
  retried(member: MemberRuntime): void;
  /**
   * `member` answered with these raw response headers: records what must be remembered and
   * returns the `Set-Cookie` values to add to the response.
   */
  answered(member: MemberRuntime, responseRaw: readonly string[]): string[];
}

export interface RequestFacts {
  readonly clientIp: string;
  readonly cookieHeader: string | undefined;
  readonly https: boolean;
  readonly now: number;
  /** The HTTP_COOKIE key of the snapshot. */
  readonly cookieKey: Buffer | undefined;
}

const NOTHING: string[] = [];

export function placeRequest(pool: PoolRuntime, facts: RequestFacts): StickyRequest {
  const persistence = pool.model.sessionPersistence;
  if (persistence?.type === "HTTP_COOKIE" && facts.cookieKey !== undefined) {
    const key = facts.cookieKey;
    const decision: HttpCookieDecision = placeByHttpCookie(
      pool,
      key,
      facts.cookieHeader,
      facts.clientIp,
      facts.now,
    );
    return {
      placement: decision.placement,
      retried: () => {},
      answered: (member, raw) => {
        const cookie = httpCookieToSet(
          pool,
          key,
          decision,
          member,
          headerValues(raw, "set-cookie"),
          facts.https,
          facts.now,
        );
        return cookie === undefined ? NOTHING : [cookie];
      },
    };
  }
  if (persistence?.type === "APP_COOKIE") {
    const decision: AppCookieDecision = placeByAppCookie(pool, facts.cookieHeader, facts.clientIp);
    return {
      placement: decision.placement,
      retried: () => {},
      answered: (member, raw) => {
        learnAppCookie(pool, decision, member, headerValues(raw, "set-cookie"), facts.now);
        return NOTHING;
      },
    };
  }
  // SOURCE_IP persistence or none: the pool's own source-IP placement (table or policy).
  const placement = pool.placeBySourceIp(facts.clientIp);
  const table = persistence?.type === "SOURCE_IP" ? pool.bindings : undefined;
  return {
    placement,
    retried: (member) => table?.bind(facts.clientIp, member.id),
    answered: () => NOTHING,
  };
}
