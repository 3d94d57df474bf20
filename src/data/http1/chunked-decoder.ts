/**
 * Follows a chunked body (RFC 9112 7.1) as its bytes pass through, to know where the message ends
 * on a kept-alive connection. The bytes themselves are forwarded unchanged (chunk sizes,
 * extensions and trailers included); only a client that cannot read chunked framing (HTTP/1.0)
 * gets the chunk data alone, through the optional `onData`.
 *
 * Strict like the head parser, and never looser than llhttp (Node's parser, and so the parser of
 * many members), because whatever we forward unchanged must mean the same to the member:
 * - chunk-size: hex digits only (no sign, no `0x`, at most 15 digits), then CRLF or `;` at once —
 *   no whitespace anywhere on the line (RFC 9112 allows "bad whitespace" around `;` and `=`,
 *   llhttp refuses it);
 * - chunk-ext: `;name` or `;name=value`, the name a token, the value a non-empty token or a
 *   quoted-string; nothing else;
 * - trailer section: field lines exactly as in a head (token name, colon, value of visible bytes,
 *   SP, HTAB and obs-text; no obs-fold), and no field that frames, routes or controls the
 *   connection (RFC 9110 6.5.1: such a trailer is one a recipient could merge into the head, and
 *   llhttp refuses `Content-Length` and `Transfer-Encoding` there);
 * - CRLF after every line and every chunk, no bare LF or CR anywhere.
 * A body that breaks these rules is an error, never a guess. See docs/http.md.
 */
import { FIELD_VALUE, TOKEN } from "./byte-classes.js";

enum State {
  Size,
  ExtNameStart,
  ExtName,
  ExtValueStart,
  ExtToken,
  ExtQuoted,
  ExtQuotedPair,
  ExtQuotedEnd,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerName,
  TrailerValue,
  TrailerLf,
  EndLf,
  Done,
}

const CR = 13;
const LF = 10;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
/** 15 hex digits stay below 2^60, exact in a double: no overflow games with long sizes. */
const MAX_SIZE_DIGITS = 15;
/** A chunk-size line (with extensions) or a trailer line longer than this is refused. */
const MAX_LINE_BYTES = 8_192;
/** The whole trailer section: bounded like a head. */
const MAX_TRAILER_BYTES = 65_536;

/** qdtext of RFC 9110 5.6.4: a field-value byte other than `"` and `\`. */
const QDTEXT = new Uint8Array(FIELD_VALUE);
QDTEXT[DQUOTE] = 0;
QDTEXT[BACKSLASH] = 0;

/**
 * Trailer names refused: framing (`Content-Length`, `Transfer-Encoding`, `Trailer`), routing
 * (`Host`) and connection control (the hop-by-hop fields). A trailer passes to the member as it
 * came, so one of these could be merged into the head by a lenient member and change what the
 * request means there.
 */
const FORBIDDEN_TRAILERS = new Set([
  "content-length",
  "transfer-encoding",
  "trailer",
  "host",
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "upgrade",
]);
/** Longer names cannot be one of the refused ones: they are not collected. */
const MAX_FORBIDDEN_NAME = 17;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

export class ChunkedError extends Error {}

export class ChunkedDecoder {
  private state = State.Size;
  private remaining = 0;
  private digits = 0;
  private lineBytes = 0;
  private trailerBytes = 0;
  /** The trailer name being read, lower case, up to {@link MAX_FORBIDDEN_NAME} + 1 characters. */
  private name = "";

  /**
   * @param onData receives each piece of chunk data (`buf[start, end)`) when set.
   */
  constructor(private readonly onData?: (buf: Buffer, start: number, end: number) => void) {}

  get done(): boolean {
    return this.state === State.Done;
  }

  private extensionByte(): void {
    if (++this.lineBytes > MAX_LINE_BYTES) throw new ChunkedError("chunk extension too long");
  }

  private trailerByte(): void {
    if (++this.lineBytes > MAX_LINE_BYTES) throw new ChunkedError("trailer line too long");
    if (++this.trailerBytes > MAX_TRAILER_BYTES) throw new ChunkedError("trailer section too long");
  }

  /**
   * Consumes `buf[start, end)`. Returns the index just past the last byte of this body (so that
   * what follows belongs to the next message), or `end` when the body goes on. Throws
   * {@link ChunkedError} on malformed framing.
   */
  feed(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end) {
      switch (this.state) {
        case State.Data: {
          const take = Math.min(this.remaining, end - i);
          this.onData?.(buf, i, i + take);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.state = State.DataCr;
          break;
        }
        case State.Size: {
          const c = buf[i++]!;
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.digits > MAX_SIZE_DIGITS) throw new ChunkedError("chunk size too long");
            this.remaining = this.remaining * 16 + v;
          } else if (this.digits === 0) {
            throw new ChunkedError("invalid chunk size");
          } else if (c === CR) {
            this.state = State.SizeLf;
          } else if (c === SEMICOLON) {
            this.state = State.ExtNameStart;
          } else {
            throw new ChunkedError("invalid chunk size line");
          }
          break;
        }
        case State.ExtNameStart: {
          if (TOKEN[buf[i++]!] !== 1) throw new ChunkedError("invalid chunk extension name");
          this.extensionByte();
          this.state = State.ExtName;
          break;
        }
        case State.ExtName: {
          const c = buf[i++]!;
          if (c === CR) this.state = State.SizeLf;
          else if (c === SEMICOLON) this.state = State.ExtNameStart;
          else if (c === EQUALS) this.state = State.ExtValueStart;
          else if (TOKEN[c] !== 1) throw new ChunkedError("invalid chunk extension name");
          this.extensionByte();
          break;
        }
        case State.ExtValueStart: {
          const c = buf[i++]!;
          if (c === DQUOTE) this.state = State.ExtQuoted;
          else if (TOKEN[c] === 1) this.state = State.ExtToken;
          else throw new ChunkedError("invalid chunk extension value");
          this.extensionByte();
          break;
        }
        case State.ExtToken: {
          const c = buf[i++]!;
          if (c === CR) this.state = State.SizeLf;
          else if (c === SEMICOLON) this.state = State.ExtNameStart;
          else if (TOKEN[c] !== 1) throw new ChunkedError("invalid chunk extension value");
          this.extensionByte();
          break;
        }
        case State.ExtQuoted: {
          const c = buf[i++]!;
          if (c === DQUOTE) this.state = State.ExtQuotedEnd;
          else if (c === BACKSLASH) this.state = State.ExtQuotedPair;
          else if (QDTEXT[c] !== 1) throw new ChunkedError("invalid byte in a quoted chunk extension");
          this.extensionByte();
          break;
        }
        case State.ExtQuotedPair: {
          if (FIELD_VALUE[buf[i++]!] !== 1)
            throw new ChunkedError("invalid byte in a quoted chunk extension");
          this.extensionByte();
          this.state = State.ExtQuoted;
          break;
        }
        case State.ExtQuotedEnd: {
          const c = buf[i++]!;
          if (c === CR) this.state = State.SizeLf;
          else if (c === SEMICOLON) this.state = State.ExtNameStart;
          else throw new ChunkedError("invalid chunk extension after a quoted value");
          this.extensionByte();
          break;
        }
        case State.SizeLf: {
          if (buf[i++] !== LF) throw new ChunkedError("bare CR after a chunk size");
          this.digits = 0;
          this.lineBytes = 0;
          this.state = this.remaining === 0 ? State.TrailerStart : State.Data;
          break;
        }
        case State.DataCr: {
          if (buf[i++] !== CR) throw new ChunkedError("chunk data longer than its size");
          this.state = State.DataLf;
          break;
        }
        case State.DataLf: {
          if (buf[i++] !== LF) throw new ChunkedError("bare CR after chunk data");
          this.state = State.Size;
          break;
        }
        case State.TrailerStart: {
          const c = buf[i++]!;
          this.trailerByte();
          if (c === CR) this.state = State.EndLf;
          else if (TOKEN[c] === 1) {
            this.name = String.fromCharCode(c | 0x20);
            this.state = State.TrailerName;
          } else if (c === 0x20 || c === 0x09) throw new ChunkedError("obs-fold line in the trailer section");
          else throw new ChunkedError("invalid trailer name");
          break;
        }
        case State.TrailerName: {
          const c = buf[i++]!;
          this.trailerByte();
          if (c === COLON) {
            if (FORBIDDEN_TRAILERS.has(this.name)) throw new ChunkedError(`${this.name} as a trailer`);
            this.state = State.TrailerValue;
          } else if (TOKEN[c] !== 1) throw new ChunkedError("invalid trailer name");
          else if (this.name.length <= MAX_FORBIDDEN_NAME)
            // Lower-cased by a bit: exact for letters, and harmless for the other token bytes, since
            // no refused name holds any of them but `-`, which the bit leaves as it is.
            this.name += String.fromCharCode(c | 0x20);
          break;
        }
        case State.TrailerValue: {
          const c = buf[i++]!;
          this.trailerByte();
          if (c === CR) this.state = State.TrailerLf;
          else if (c === LF) throw new ChunkedError("bare LF in the trailer section");
          else if (FIELD_VALUE[c] !== 1) throw new ChunkedError("control byte in a trailer value");
          break;
        }
        case State.TrailerLf: {
          if (buf[i++] !== LF) throw new ChunkedError("bare CR in the trailer section");
          this.lineBytes = 0;
          this.state = State.TrailerStart;
          break;
        }
        case State.EndLf: {
          if (buf[i++] !== LF) throw new ChunkedError("bare CR at the end of a chunked body");
          this.state = State.Done;
          return i;
        }
        case State.Done:
          return i;
      }
    }
    return i;
  }
}
