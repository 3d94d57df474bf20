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
import type { InsertedCookies } from "../affinity/inserted-cookies.js";
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
}

const NOTHING: string[] = [];

// One small class per persistence type: a request allocates one object, no closures.

class InsertedCookieRequest implements StickyRequest {
  constructor(
    private readonly pool: PoolRuntime,
    private readonly cookies: InsertedCookies,
    private readonly decision: HttpCookieDecision,
    private readonly https: boolean,
    private readonly now: number,
  ) {}

  get placement(): Placement {
    return this.decision.placement;
  }

  retried(): void {}

  answered(member: MemberRuntime, raw: readonly string[]): string[] {
    const cookie = httpCookieToSet(
      this.pool,
      this.cookies,
      this.decision,
      member,
      headerValues(raw, "set-cookie"),
      this.https,
      this.now,
    );
    return cookie === undefined ? NOTHING : [cookie];
  }
}

class AppCookieRequest implements StickyRequest {
  constructor(
    private readonly pool: PoolRuntime,
    private readonly decision: AppCookieDecision,
    private readonly now: number,
  ) {}

  get placement(): Placement {
    return this.decision.placement;
  }

  retried(): void {}

  answered(member: MemberRuntime, raw: readonly string[]): string[] {
    learnAppCookie(this.pool, this.decision, member, headerValues(raw, "set-cookie"), this.now);
    return NOTHING;
  }
}

class SourceIpRequest implements StickyRequest {
  constructor(
    readonly placement: Placement,
    private readonly pool: PoolRuntime,
    private readonly clientIp: string,
  ) {}

  /** SOURCE_IP persistence: the retry's member becomes the binding. */
  retried(member: MemberRuntime): void {
    if (this.pool.model.sessionPersistence?.type === "SOURCE_IP")
      this.pool.bindings?.bind(this.clientIp, member.id);
  }

  answered(): string[] {
    return NOTHING;
  }
}

export function placeRequest(pool: PoolRuntime, facts: RequestFacts): StickyRequest {
  const persistence = pool.model.sessionPersistence;
  const cookies = pool.cookies;
  if (cookies !== undefined) {
    const decision = placeByHttpCookie(pool, cookies, facts.cookieHeader, facts.clientIp, facts.now);
    return new InsertedCookieRequest(pool, cookies, decision, facts.https, facts.now);
  }
  if (persistence?.type === "APP_COOKIE") {
    const decision = placeByAppCookie(pool, facts.cookieHeader, facts.clientIp);
    return new AppCookieRequest(pool, decision, facts.now);
  }
  // SOURCE_IP persistence or none: the pool's own source-IP placement (table or policy).
  return new SourceIpRequest(pool.placeBySourceIp(facts.clientIp), pool, facts.clientIp);
}
