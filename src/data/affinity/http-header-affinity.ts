/**
 * HTTP_HEADER: a header named by the pool (`headerName`) carries the session token
 * (`session-token.ts`), for clients that are not browsers: API clients, mobile apps. The client
 * sends back the value of the last response header it received; the first response to an
 * unplaced client, and a renewal as the token ages, carry a new value (docs/affinity.md).
 */

/** What two headers of the name yield: a value no token has, so the request counts as `invalid`. */
const TWO_TOKENS = "two-tokens";

/**
 * The value of the header `lowerName` among a request's raw header pairs; undefined when absent
 * or empty (a client that has no token yet). Two or more are refused as {@link TWO_TOKENS}: a
 * client that sends two tokens has no single session to honour.
 */
export function requestHeaderToken(raw: readonly string[], lowerName: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== lowerName.length || name.toLowerCase() !== lowerName) continue;
    if (found !== undefined) return TWO_TOKENS;
    found = raw[i + 1]!.trim();
  }
  return found === "" ? undefined : found;
}

/** Whether the member's own response sets the header (the application wins, as with the cookie). */
export function memberSetsHeader(raw: readonly string[], lowerName: string): boolean {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return true;
  }
  return false;
}
