/**
 * APP_COOKIE: the application's own cookie value is the key of a binding table (the request's
 * value is proposed by `stickiness.ts`); the response's `Set-Cookie` headers teach the table.
 * Whether a bound member may take the client is the resolver's rule, written once.
 */
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { BindingStore } from "./binding-table.js";
import { parseSetCookie } from "./cookie-header.js";

/**
 * Longest application cookie value used as a binding key. Session ids are far shorter; a longer
 * value would let one client grow the table's memory by what it sends, so it is refused
 * (`invalid`) and placed by the algorithm without a binding.
 */
export const MAX_APP_COOKIE_VALUE_LENGTH = 256;

/**
 * Learns from the response of the member that answered: binds the request's value when it was
 * placed afresh or moved by a retry (`mustBind`), then applies the response's `Set-Cookie` headers of the
 * cookie's name — a value binds to `answered`, a deletion removes the request value's binding.
 * With a shared table, a value that binds anew is written to the store at once: the result then
 * settles once the store acknowledged it (or after the store's budget), and the caller holds the
 * response until then so that the client's next request finds the binding on every replica. A
 * deletion is not waited for: the client drops the cookie and sends no key any more.
 */
export function learnAppCookie(
  table: BindingStore,
  cookieName: string,
  requestValue: string | undefined,
  mustBind: boolean,
  answered: MemberRuntime,
  memberSetCookies: readonly string[],
  now: number,
): Promise<void> | undefined {
  let ack: Promise<void> | undefined;
  const bind = (value: string): void => {
    if (table.bindAcknowledged === undefined) {
      table.bind(value, answered.id);
      return;
    }
    const landed = table.bindAcknowledged(value, answered.id);
    if (landed !== undefined) ack = ack === undefined ? landed : Promise.all([ack, landed]).then(noop);
  };
  if (requestValue !== undefined && mustBind) bind(requestValue);
  for (const header of memberSetCookies) {
    const cookie = parseSetCookie(header, now);
    if (
      cookie === undefined ||
      cookie.name !== cookieName ||
      cookie.value.length > MAX_APP_COOKIE_VALUE_LENGTH
    )
      continue;
    if (cookie.deletes) {
      if (requestValue !== undefined) table.delete(requestValue);
    } else {
      bind(cookie.value);
    }
  }
  return ack;
}

function noop(): void {}
