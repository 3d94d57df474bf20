/**
 * Byte classes of HTTP/1.1 as lookup tables (1 = allowed), shared by the head parser and the
 * chunked-body follower so that a header and a trailer are held to the same grammar.
 */

/** tchar of RFC 9110 5.6.2. */
export const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TOKEN[c.charCodeAt(0)] = 1;

/** Bytes allowed in a field value or reason phrase: VCHAR, obs-text, SP, HTAB (no control byte, no DEL). */
export const FIELD_VALUE = new Uint8Array(256);
for (let c = 0x20; c < 0x100; c++) FIELD_VALUE[c] = c === 0x7f ? 0 : 1;
FIELD_VALUE[0x09] = 1;
