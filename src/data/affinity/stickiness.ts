/**
 * How one pool keeps a client on its member: one small object per pool and snapshot, chosen once
 * by {@link stickinessFor} when the snapshot is built, so no data-path code asks a pool for its
 * persistence type. Each variant is a key extractor and its memory: it turns a client into a
 * {@link Proposal} and remembers a new placement; whether the proposed member may take the client
 * is the resolver's rule, and the bookkeeping is the placement front's (`placement-front.ts`).
 */
import type { PoolModel } from "../../core/model.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import { learnAppCookie, MAX_APP_COOKIE_VALUE_LENGTH } from "./app-cookie-affinity.js";
import type { BindingStore } from "./binding-table.js";
import type { CookieCodec } from "./cookie-codec.js";
import { findCookie, setCookieValues } from "./cookie-header.js";
import { httpCookieToSet, proposeByHttpCookie } from "./http-cookie-affinity.js";
import { InsertedCookies } from "./inserted-cookies.js";
import { GONE, type Proposal } from "./resolver.js";

/** What a listener knows of a client when it asks for a member. */
export interface ClientFacts {
  /** Normalised client IP (`clientIpKey`): the SOURCE_IP key and the hash key. */
  readonly clientIp: string;
  /** HTTP and HTTPS requests: cookie persistence applies. L4 connections and flows: false. */
  readonly http: boolean;
  /** The request's `Cookie` header (several joined with `; `). */
  readonly cookieHeader: string | undefined;
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
  /** HTTP_COOKIE: when the honoured cookie was issued (ms). */
  issuedAt: number;
  /** The member first placed. */
  readonly member: MemberRuntime | undefined;
  /** Placed afresh or moved by a retry: the member that answers must be remembered. */
  readonly rebind: boolean;
}

export interface Stickiness {
  /**
   * The key extractor: what the client's key proposes, or undefined when this client is not
   * sticky here (no persistence, or cookie persistence on an L4 listener) — the policy alone
   * places it and no affinity decision is counted. A live binding it finds is touched.
   */
  propose(client: StickyClient): Proposal | undefined;
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
   * teaches and return the `Set-Cookie` values to add.
   */
  answered(client: StickyClient, member: MemberRuntime, responseRaw: readonly string[]): readonly string[];
  /** L4: an open connection or flow holds its binding (it cannot lapse while open). */
  hold(client: StickyClient): void;
  release(client: StickyClient): void;
}

const NOTHING: readonly string[] = [];

/** No session persistence: the policy places every client (the SOURCE_IP algorithm hashes). */
const NOT_STICKY: Stickiness = {
  propose: () => undefined,
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

/** HTTP_COOKIE: stickylb's own cookie names the member; nothing is kept in the process. */
class InsertedCookieStickiness implements Stickiness {
  constructor(
    private readonly cookies: InsertedCookies,
    private readonly pool: PoolModel,
  ) {}

  propose(client: StickyClient): Proposal | undefined {
    const { facts } = client;
    if (!facts.http) return undefined;
    const found = proposeByHttpCookie(
      this.cookies,
      this.pool.sessionPersistence!,
      facts.cookieHeader,
      facts.now,
    );
    if (found.kind === "bound") {
      client.issuedAt = found.issuedAt;
      const member = this.cookies.memberByToken(found.token);
      return member === undefined ? GONE : { kind: "bound", member: member.id };
    }
    return found;
  }

  bind(): void {}

  answered(client: StickyClient, member: MemberRuntime, responseRaw: readonly string[]): readonly string[] {
    const honoured = client.rebind ? undefined : client.member;
    const cookie = httpCookieToSet(
      this.cookies,
      this.pool.sessionPersistence!,
      honoured,
      client.issuedAt,
      member,
      setCookieValues(responseRaw),
      client.facts.https,
      client.facts.now,
    );
    return cookie === undefined ? NOTHING : [cookie];
  }

  hold(): void {}
  release(): void {}
}

/**
 * The stickiness of a pool in a snapshot: the one place the persistence type is looked at. The
 * pool's binding table (SOURCE_IP, APP_COOKIE) is long-lived pool state; the HTTP_COOKIE token
 * index is built here, with the snapshot's codec.
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
        : new InsertedCookieStickiness(new InsertedCookies(codec, persistence, members), pool);
    case undefined:
      return NOT_STICKY;
  }
}
