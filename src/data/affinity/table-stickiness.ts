/**
 * The stickiness of the binding tables: SOURCE_IP persistence (the client IP is the key, for every
 * protocol) and APP_COOKIE (the application's cookie value is the key; the response teaches the
 * table). With a shared store (docs/shared-state.md) a new placement is claimed in the store, a
 * client moved off a member that may not take it is moved in the store first, and a binding
 * learnt from a response is acknowledged by it before the response goes on.
 */
import type { MemberId } from "../../core/member.js";
import type { PersistenceType } from "../../core/model.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import { learnAppCookie, MAX_APP_COOKIE_VALUE_LENGTH } from "./app-cookie-affinity.js";
import type { BindingStore } from "./binding-table.js";
import { findCookie, setCookieValues } from "./cookie-header.js";
import type { Proposal } from "./resolver.js";
import {
  type ClientFacts,
  type KeyPeek,
  NOTHING,
  notFound,
  type Stickiness,
  type StickyClient,
} from "./stickiness-contract.js";

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

/** Claims a new placement in a shared table; see {@link Stickiness.claim}. */
function claimInStore(
  table: BindingStore,
  client: StickyClient,
  member: MemberRuntime,
): Promise<MemberId | undefined> | undefined {
  const key = client.key;
  if (key === undefined || table.claimShared === undefined) return undefined;
  return table.claimShared(key, member.id);
}

/** Moves a client's binding in a shared table; see {@link Stickiness.rebind}. */
function rebindInStore(
  table: BindingStore,
  client: StickyClient,
  from: MemberId,
  to: MemberRuntime,
): Promise<MemberId | undefined> | undefined {
  const key = client.key;
  if (key === undefined || table.rebindShared === undefined) return undefined;
  return table.rebindShared(key, from, to.id);
}

/** SOURCE_IP persistence: the client IP is the key of a binding table, for every protocol. */
export class SourceIpStickiness implements Stickiness {
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

  claim(client: StickyClient, member: MemberRuntime): Promise<MemberId | undefined> | undefined {
    return claimInStore(this.table, client, member);
  }

  rebind(client: StickyClient, from: MemberId, to: MemberRuntime): Promise<MemberId | undefined> | undefined {
    return rebindInStore(this.table, client, from, to);
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
export class AppCookieStickiness implements Stickiness {
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

  claim(client: StickyClient, member: MemberRuntime): Promise<MemberId | undefined> | undefined {
    return claimInStore(this.table, client, member);
  }

  rebind(client: StickyClient, from: MemberId, to: MemberRuntime): Promise<MemberId | undefined> | undefined {
    return rebindInStore(this.table, client, from, to);
  }

  bind(): void {}

  answered(client: StickyClient, member: MemberRuntime, responseRaw: readonly string[]): readonly string[] {
    const mustBind = client.rebind || client.member !== member;
    const setCookies = setCookieValues(responseRaw);
    client.storeAck = learnAppCookie(
      this.table,
      this.cookieName,
      client.key,
      mustBind,
      member,
      setCookies,
      client.facts.now,
    );
    return NOTHING;
  }

  hold(): void {}
  release(): void {}
}
