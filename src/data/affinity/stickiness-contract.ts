/**
 * What the placement front asks of a pool's stickiness, and what it tells it about a client
 * (`stickiness.ts` chooses the variant: `table-stickiness.ts` for the binding tables of SOURCE_IP
 * and APP_COOKIE, `token-stickiness.ts` for the tokens of HTTP_COOKIE and HTTP_HEADER).
 */
import type { MemberId } from "../../core/member.js";
import type { PersistenceType } from "../../core/model.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { Proposal } from "./resolver.js";

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
  /**
   * HTTP: set by `answered` when the response taught a new or changed binding that the shared
   * store has not acknowledged yet; the response head waits for it (settles within the store's
   * budget, never rejects). Undefined: nothing to wait for.
   */
  storeAck: Promise<void> | undefined;
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
   * A new placement of a client whose key has no live local binding (`propose` said `none` or
   * `expired`, and `member` is the policy's pick): claims it in the shared store, if the pool has
   * one. Undefined when there is nothing to ask (no store, no key, or the store cannot be asked
   * now): place locally. The promise never rejects and settles within the store's budget, with
   * the member the store holds for the key (ours, or another replica's first claim, now cached
   * locally) or `undefined` (an error, no answer in time: place locally).
   */
  claim?(client: StickyClient, member: MemberRuntime): Promise<MemberId | undefined> | undefined;
  /**
   * The client's live binding names `from`, which may not take it, and the policy picked `to`:
   * moves it in the shared store at once, if the pool has one, so that every replica sends the
   * client to one new member. Undefined when there is nothing to ask (then `bind`); the promise
   * never rejects and settles within the store's budget with the member the store holds (`to`,
   * or the one another replica moved the client to first) or `undefined` (then `bind`).
   */
  rebind?(client: StickyClient, from: MemberId, to: MemberRuntime): Promise<MemberId | undefined> | undefined;
  /** The client was placed afresh (or moved by a retry) on `member`: remember it now if kept here. */
  bind(client: StickyClient, member: MemberRuntime): void;
  /**
   * HTTP: `member` answered with these raw response header pairs: learn what the response
   * teaches and return the header pairs to add (`[name, value, …]`: a `Set-Cookie`, a token header).
   * A binding learnt that the shared store must acknowledge first sets `client.storeAck`.
   */
  answered(client: StickyClient, member: MemberRuntime, responseRaw: readonly string[]): readonly string[];
  /** L4: an open connection or flow holds its binding (it cannot lapse while open). */
  hold(client: StickyClient): void;
  release(client: StickyClient): void;
}

export const NOTHING: readonly string[] = [];

/** A key the client does not carry, or a table with no entry for it. */
export function notFound(type: PersistenceType, refused?: string): KeyPeek {
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
