/**
 * How one pool keeps a client on its member: one small object per pool and snapshot, chosen once
 * by {@link stickinessFor} when the snapshot is built, so no data-path code asks a pool for its
 * persistence type. Each variant is a key extractor and its memory: it turns a client into a
 * `Proposal` and remembers a new placement; whether the proposed member may take the client
 * is the resolver's rule, and the bookkeeping is the placement front's (`placement-front.ts`).
 * The contract is `stickiness-contract.ts`; the variants are in `table-stickiness.ts` (SOURCE_IP,
 * APP_COOKIE) and `token-stickiness.ts` (HTTP_COOKIE, HTTP_HEADER).
 */
import type { PoolModel } from "../../core/model.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { BindingStore } from "./binding-table.js";
import type { CookieCodec } from "./cookie-codec.js";
import { MemberTokens } from "./session-token.js";
import { NOTHING, type Stickiness } from "./stickiness-contract.js";
import { AppCookieStickiness, SourceIpStickiness } from "./table-stickiness.js";
import { HeaderStickiness, InsertedCookieStickiness } from "./token-stickiness.js";

export type { ClientFacts, KeyPeek, Stickiness, StickyClient } from "./stickiness-contract.js";

/** No session persistence: the policy places every client (the SOURCE_IP algorithm hashes). */
const NOT_STICKY: Stickiness = {
  propose: () => undefined,
  peek: () => undefined,
  bind: () => {},
  answered: () => NOTHING,
  hold: () => {},
  release: () => {},
};

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
