/**
 * How one pool keeps a client on its member: one small object per pool and snapshot, chosen once
 * by {@link stickinessFor} when the snapshot is built, so no data-path code asks a pool for its
 * persistence type. Each variant is a key extractor and its memory: it turns a client into a
 * {@link Proposal} and remembers a new placement; whether the proposed member may take the client
 * is the resolver's rule, and the bookkeeping is the placement front's (`placement-front.ts`).
 */
import type { MemberId } from "../../core/member.js";
import type { PersistenceType, PoolModel, SessionPersistence } from "../../core/model.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import { learnAppCookie, MAX_APP_COOKIE_VALUE_LENGTH } from "./app-cookie-affinity.js";
import type { BindingStore } from "./binding-table.js";
import { type CookieCodec, isSessionOver } from "./cookie-codec.js";
import { findCookie, setCookieValues } from "./cookie-header.js";
import { cookieToken, setCookieFor } from "./http-cookie-affinity.js";
import { memberSetsHeader, requestHeaderToken } from "./http-header-affinity.js";
import { InsertedCookies } from "./inserted-cookies.js";
import { GONE, type Proposal } from "./resolver.js";
import { type IssuedToken, MemberTokens, readToken, tokenToIssue } from "./session-token.js";

/** What a listener knows of a client when it asks for a member. */
export interface ClientFacts {
  /** Normalised client IP (`clientIpKey`): the SOURCE_IP key and the hash key. */
  readonly clientIp: string;
  /** HTTP and HTTPS requests: cookie persistence applies. L4 connections and flows: false. */
  readonly http: boolean;
  /** The request's `Cookie` header (several joined with `; `). */
  readonly cookieHeader: string | undefined;
  /** The request's raw header pairs `[name, value, …]` (HTTP_HEADER reads its header there). */
  readonly requestRaw: readonly string[];
  /** The listener is HTTPS (the inserted cookie's `Secure: auto`). */
  readonly https: boolean;
  readonly now: number;
}

/**
 * The per-client state a variant reads and writes: the key it found and, for the inserted
 * cookie, when the honoured cookie was issued. Implemented by the front's `PlacedClient`.
 */
export interface StickyClient {
  readonly facts: ClientFacts;
  /** The binding key (client IP, application cookie value) once proposed. */
  key: string | undefined;
  /** HTTP_COOKIE, HTTP_HEADER: when the honoured token was issued (ms). */
  issuedAt: number;
  /** HTTP_COOKIE, HTTP_HEADER: the session start of a valid token; undefined: a new session. */
  sessionStart: number | undefined;
  /** The member first placed. */
  readonly member: MemberRuntime | undefined;
  /** Placed afresh or moved by a retry: the member that answers must be remembered. */
  readonly rebind: boolean;
}

/**
 * What a key extractor finds for a client when nothing may change (the admin API's explain): the
 * same proposal `propose` would make, and what the key decoded to.
 */
export interface KeyPeek {
  readonly type: PersistenceType;
  readonly proposal: Proposal;
  /** The request carried the key (cookies), or the table holds an entry for it (tables). */
  readonly found: boolean;
  /** The member the key names, when it names one (a forged or malformed key names none). */
  readonly member: MemberId | undefined;
  /** HTTP_COOKIE, HTTP_HEADER: when the token was issued (ms since the epoch). */
  readonly issuedAt: number | undefined;
  /** HTTP_COOKIE, HTTP_HEADER: when the token's session started (absoluteTimeout counts from it). */
  readonly sessionStart?: number | undefined;
  readonly expired: boolean;
  /** HTTP_COOKIE, HTTP_HEADER: the token's MAC does not match (not made with this key). */
  readonly forged: boolean;
  /** Why a present key is not usable: malformed, forged, another format version, too long. */
  readonly refused: string | undefined;
  /** Tables: how long a live binding has been idle (0 while connections hold it). */
  readonly idleMs?: number | undefined;
  /** Tables: open connections holding a live binding. */
  readonly holds?: number | undefined;
}

export interface Stickiness {
  /**
   * The key extractor: what the client's key proposes, or undefined when this client is not
   * sticky here (no persistence, or cookie persistence on an L4 listener) — the policy alone
   * places it and no affinity decision is counted. A live binding it finds is touched.
   */
  propose(client: StickyClient): Proposal | undefined;
  /**
   * What `propose` would say for these facts, touching nothing (no idle timer restarted, no
   * expired entry removed, no cache filled); undefined exactly when `propose` would be.
   */
  peek(facts: ClientFacts): KeyPeek | undefined;
  /**
   * After `propose` found no live local binding (`none` or `expired`) for `client.key`: asks the
   * shared store, if the pool has one. Undefined when there is nothing to ask (no store, or it
   * cannot be asked now): the local proposal stands. The promise never rejects and settles within
   * the store's budget; it resolves to the store's binding or to `local` again.
   */
  proposeRemote?(client: StickyClient, local: Proposal): Promise<Proposal> | undefined;
  /** The client was placed afresh (or moved by a retry) on `member`: remember it now if kept here. */
  bind(client: StickyClient, member: MemberRuntime): void;
  /**
   * HTTP: `member` answered with these raw response header pairs: learn what the response
   * teaches and return the header pairs to add (`[name, value, …]`: a `Set-Cookie`, a token header).
   */
  answered(client: StickyClient, member: MemberRuntime, responseRaw: readonly string[]): readonly string[];
  /** L4: an open connection or flow holds its binding (it cannot lapse while open). */
  hold(client: StickyClient): void;
  release(client: StickyClient): void;
}

const NOTHING: readonly string[] = [];

/** A key the client does not carry, or a table with no entry for it. */
function notFound(type: PersistenceType, refused?: string): KeyPeek {
  return {
    type,
    proposal: refused === undefined ? { kind: "none" } : { kind: "invalid" },
    found: refused !== undefined,
    member: undefined,
    issuedAt: undefined,
    expired: false,
    forged: false,
    refused,
  };
}

/** A table lookup as a peek: the same proposal `propose` makes from `get`. */
function peekTable(type: PersistenceType, table: BindingStore, key: string): KeyPeek {
  const found = table.peek(key);
  if (found === undefined) return notFound(type);
  const live = found.expired ? undefined : table.entry?.(key);
  return {
    idleMs: live?.idleMs,
    holds: live?.holds,
    type,
    proposal: found.expired ? { kind: "expired" } : { kind: "bound", member: found.member },
    found: true,
    member: found.member,
    issuedAt: undefined,
    expired: found.expired,
    forged: false,
    refused: undefined,
  };
}

/** No session persistence: the policy places every client (the SOURCE_IP algorithm hashes). */
const NOT_STICKY: Stickiness = {
  propose: () => undefined,
  peek: () => undefined,
  bind: () => {},
  answered: () => NOTHING,
  hold: () => {},
  release: () => {},
};

/** Asks a shared table for a key the local one lacked; see {@link Stickiness.proposeRemote}. */
function proposeFromStore(
  table: BindingStore,
  client: StickyClient,
  local: Proposal,
): Promise<Proposal> | undefined {
  const key = client.key;
  if (key === undefined || table.lookupShared === undefined) return undefined;
  const asked = table.lookupShared(key);
  if (asked === undefined) return undefined;
  return asked.then((member) => (member === undefined ? local : { kind: "bound", member }));
}

/** SOURCE_IP persistence: the client IP is the key of a binding table, for every protocol. */
class SourceIpStickiness implements Stickiness {
  constructor(private readonly table: BindingStore) {}

  propose(client: StickyClient): Proposal {
    const key = client.facts.clientIp;
    client.key = key;
    const found = this.table.get(key);
    if (found === undefined) return { kind: "none" };
    return found.expired ? { kind: "expired" } : { kind: "bound", member: found.member };
  }

  peek(facts: ClientFacts): KeyPeek {
    return peekTable("SOURCE_IP", this.table, facts.clientIp);
  }

  proposeRemote(client: StickyClient, local: Proposal): Promise<Proposal> | undefined {
    return proposeFromStore(this.table, client, local);
  }

  bind(client: StickyClient, member: MemberRuntime): void {
    if (client.key !== undefined) this.table.bind(client.key, member.id);
  }

  answered(): readonly string[] {
    return NOTHING;
  }

  hold(client: StickyClient): void {
    if (client.key !== undefined) this.table.hold(client.key);
  }

  release(client: StickyClient): void {
    if (client.key !== undefined) this.table.release(client.key);
  }
}

/**
 * APP_COOKIE: the application's cookie value is the key of a binding table; the response of the
 * member that answered teaches the table (so a placement is recorded at the answer, not before).
 */
class AppCookieStickiness implements Stickiness {
  constructor(
    private readonly table: BindingStore,
    private readonly cookieName: string,
  ) {}

  propose(client: StickyClient): Proposal | undefined {
    const { facts } = client;
    if (!facts.http) return undefined;
    const value =
      facts.cookieHeader === undefined ? undefined : findCookie(facts.cookieHeader, this.cookieName);
    if (value === undefined) return { kind: "none" };
    // An over-long value would let one client grow the table by what it sends: not a key.
    if (value.length > MAX_APP_COOKIE_VALUE_LENGTH) return { kind: "invalid" };
    client.key = value;
    // A live hit also restarts the binding's idle timer: a request is traffic.
    const found = this.table.get(value);
    if (found === undefined) return { kind: "none" };
    return found.expired ? { kind: "expired" } : { kind: "bound", member: found.member };
  }

  peek(facts: ClientFacts): KeyPeek | undefined {
    if (!facts.http) return undefined;
    const value =
      facts.cookieHeader === undefined ? undefined : findCookie(facts.cookieHeader, this.cookieName);
    if (value === undefined) return notFound("APP_COOKIE");
    if (value.length > MAX_APP_COOKIE_VALUE_LENGTH)
      return notFound("APP_COOKIE", `longer than ${MAX_APP_COOKIE_VALUE_LENGTH} characters`);
    return peekTable("APP_COOKIE", this.table, value);
  }

  proposeRemote(client: StickyClient, local: Proposal): Promise<Proposal> | undefined {
    return proposeFromStore(this.table, client, local);
  }

  bind(): void {}

  answered(client: StickyClient, member: MemberRuntime, responseRaw: readonly string[]): readonly string[] {
    const mustBind = client.rebind || client.member !== member;
    const setCookies = setCookieValues(responseRaw);
    learnAppCookie(this.table, this.cookieName, client.key, mustBind, member, setCookies, client.facts.now);
    return NOTHING;
  }

  hold(): void {}
  release(): void {}
}

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
class InsertedCookieStickiness extends TokenStickiness {
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
class HeaderStickiness extends TokenStickiness {
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

/**
 * The stickiness of a pool in a snapshot: the one place the persistence type is looked at. The
 * pool's binding table (SOURCE_IP, APP_COOKIE) is long-lived pool state; the member token index
 * of HTTP_COOKIE and HTTP_HEADER is built here, with the snapshot's codec.
 */
export function stickinessFor(
  pool: PoolModel,
  members: readonly MemberRuntime[],
  table: BindingStore | undefined,
  codec: CookieCodec | undefined,
): Stickiness {
  const persistence = pool.sessionPersistence;
  switch (persistence?.type) {
    case "SOURCE_IP":
      return table === undefined ? NOT_STICKY : new SourceIpStickiness(table);
    case "APP_COOKIE":
      return table === undefined ? NOT_STICKY : new AppCookieStickiness(table, persistence.cookieName);
    case "HTTP_COOKIE":
      return codec === undefined
        ? NOT_STICKY
        : new InsertedCookieStickiness(new MemberTokens(codec, members), persistence);
    case "HTTP_HEADER":
      return codec === undefined || persistence.headerName === undefined
        ? NOT_STICKY
        : new HeaderStickiness(new MemberTokens(codec, members), persistence, persistence.headerName);
    case undefined:
      return NOT_STICKY;
  }
}
