/**
 * The stickiness of stickylb's own session token (HTTP_COOKIE, HTTP_HEADER): the token names the
 * member and carries the session's times, so nothing is kept in the process or in a shared store
 * (only the key that authenticates tokens is shared, docs/shared-state.md).
 */
import type { SessionPersistence } from "../../core/model.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import { isSessionOver } from "./cookie-codec.js";
import { setCookieValues } from "./cookie-header.js";
import { cookieToken, setCookieFor } from "./http-cookie-affinity.js";
import { memberSetsHeader, requestHeaderToken } from "./http-header-affinity.js";
import { InsertedCookies } from "./inserted-cookies.js";
import { GONE, type Proposal } from "./resolver.js";
import { type IssuedToken, type MemberTokens, readToken, tokenToIssue } from "./session-token.js";
import {
  type ClientFacts,
  type KeyPeek,
  NOTHING,
  notFound,
  type Stickiness,
  type StickyClient,
} from "./stickiness-contract.js";

/**
 * HTTP_COOKIE and HTTP_HEADER: stickylb's own token names the member and carries the session's
 * times; nothing is kept in the process. The variants differ only in where the token travels.
 */
abstract class TokenStickiness implements Stickiness {
  constructor(
    private readonly tokens: MemberTokens,
    protected readonly persistence: SessionPersistence,
  ) {}

  /** The token the request carries, if any. */
  protected abstract requestToken(facts: ClientFacts): string | undefined;
  /** The header pairs that send `token` with the member's response (none when the member's own wins). */
  protected abstract send(
    token: IssuedToken,
    facts: ClientFacts,
    responseRaw: readonly string[],
  ): readonly string[];

  propose(client: StickyClient): Proposal | undefined {
    const { facts } = client;
    if (!facts.http) return undefined;
    const found = readToken(this.tokens.codec, this.persistence, this.requestToken(facts), facts.now);
    if (found.kind !== "bound") return found;
    client.issuedAt = found.issuedAt;
    client.sessionStart = found.sessionStart;
    const member = this.tokens.memberByToken(found.token);
    return member === undefined ? GONE : { kind: "bound", member: member.id };
  }

  /** What `propose` would find, keeping what the token decoded (no cache filled, nothing touched). */
  peek(facts: ClientFacts): KeyPeek | undefined {
    if (!facts.http) return undefined;
    const type = this.persistence.type;
    const value = this.requestToken(facts);
    if (value === undefined) return notFound(type);
    const codec = this.tokens.codec;
    const decoded = codec.decode(value, false);
    if (!decoded.ok) {
      const refused = decoded.reason === "version" ? "another format version" : decoded.reason;
      return { ...notFound(type, refused), forged: decoded.reason === "forged" };
    }
    const expired =
      codec.isExpired(decoded.issuedAtMs, facts.now, this.persistence.persistenceTimeoutMs) ||
      isSessionOver(decoded.sessionStartMs, facts.now, this.persistence.absoluteTimeoutMs);
    const member = this.tokens.memberByToken(decoded.token);
    return {
      type,
      proposal: expired
        ? { kind: "expired" }
        : member === undefined
          ? GONE
          : { kind: "bound", member: member.id },
      found: true,
      member: member?.id,
      issuedAt: decoded.issuedAtMs,
      sessionStart: decoded.sessionStartMs,
      expired,
      forged: false,
      refused: undefined,
    };
  }

  bind(): void {}

  answered(client: StickyClient, member: MemberRuntime, responseRaw: readonly string[]): readonly string[] {
    const holder = {
      honoured: client.rebind ? undefined : client.member,
      issuedAt: client.issuedAt,
      sessionStart: client.sessionStart,
    };
    const token = tokenToIssue(this.tokens, this.persistence, holder, member, client.facts.now);
    return token === undefined ? NOTHING : this.send(token, client.facts, responseRaw);
  }

  hold(): void {}
  release(): void {}
}

/** HTTP_COOKIE: the token is the inserted cookie's value. */
export class InsertedCookieStickiness extends TokenStickiness {
  private readonly cookies: InsertedCookies;

  constructor(tokens: MemberTokens, persistence: SessionPersistence) {
    super(tokens, persistence);
    this.cookies = new InsertedCookies(persistence);
  }

  protected requestToken(facts: ClientFacts): string | undefined {
    return cookieToken(this.persistence, facts.cookieHeader);
  }

  protected send(token: IssuedToken, facts: ClientFacts, responseRaw: readonly string[]): readonly string[] {
    const { persistence } = this;
    const header = setCookieFor(
      this.cookies,
      persistence,
      token,
      setCookieValues(responseRaw),
      facts.https,
      facts.now,
    );
    return header === undefined ? NOTHING : ["Set-Cookie", header];
  }
}

/** HTTP_HEADER: the token travels in the header `headerName`, both ways. */
export class HeaderStickiness extends TokenStickiness {
  private readonly lowerName: string;

  constructor(
    tokens: MemberTokens,
    persistence: SessionPersistence,
    private readonly headerName: string,
  ) {
    super(tokens, persistence);
    this.lowerName = headerName.toLowerCase();
  }

  protected requestToken(facts: ClientFacts): string | undefined {
    return requestHeaderToken(facts.requestRaw, this.lowerName);
  }

  protected send(token: IssuedToken, _facts: ClientFacts, responseRaw: readonly string[]): readonly string[] {
    // The member's own header of that name wins, as the application's cookie does with HTTP_COOKIE.
    return memberSetsHeader(responseRaw, this.lowerName) ? NOTHING : [this.headerName, token.value];
  }
}
