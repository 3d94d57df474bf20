/**
 * Follows a chunked body (RFC 9112 7.1) as its bytes pass through, to know where the message ends
 * on a kept-alive connection. The bytes themselves are forwarded unchanged (chunk sizes,
 * extensions and trailers included); only a client that cannot read chunked framing (HTTP/1.0)
 * gets the chunk data alone, through the optional `onData`.
 *
 * Strict like the head parser: hex sizes only (no sign, no `0x`, at most 15 digits), CRLF after
 * every size line and every chunk, no bare LF anywhere. A body that breaks these rules is an
 * error, never a guess.
 */

enum State {
  Size,
  SizeWhitespace,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  Trailer,
  TrailerLf,
  EndLf,
  Done,
}

const CR = 13;
const LF = 10;
/** 15 hex digits stay below 2^60, exact in a double: no overflow games with long sizes. */
const MAX_SIZE_DIGITS = 15;
/** A chunk-size line (with extensions) or a trailer line longer than this is refused. */
const MAX_LINE_BYTES = 8_192;

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

  /**
   * @param onData receives each piece of chunk data (`buf[start, end)`) when set.
   */
  constructor(private readonly onData?: (buf: Buffer, start: number, end: number) => void) {}

  get done(): boolean {
    return this.state === State.Done;
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
          } else if (c === 0x3b /* ; */) {
            this.state = State.Extension;
          } else if (c === 0x20 || c === 0x09) {
            this.state = State.SizeWhitespace;
          } else {
            throw new ChunkedError("invalid chunk size");
          }
          break;
        }
        case State.SizeWhitespace: {
          const c = buf[i++]!;
          if (c === 0x3b) this.state = State.Extension;
          else if (c === CR) this.state = State.SizeLf;
          else if (c !== 0x20 && c !== 0x09) throw new ChunkedError("invalid chunk size line");
          break;
        }
        case State.Extension: {
          const c = buf[i++]!;
          if (c === CR) this.state = State.SizeLf;
          else if (c === LF || (c < 0x20 && c !== 0x09) || c === 0x7f)
            throw new ChunkedError("invalid chunk extension");
          else if (++this.lineBytes > MAX_LINE_BYTES) throw new ChunkedError("chunk extension too long");
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
          if (c === CR) this.state = State.EndLf;
          else if (c === LF) throw new ChunkedError("bare LF in the trailer section");
          else this.state = State.Trailer;
          break;
        }
        case State.Trailer: {
          const c = buf[i++]!;
          if (c === CR) this.state = State.TrailerLf;
          else if (c === LF) throw new ChunkedError("bare LF in the trailer section");
          else if (++this.lineBytes > MAX_LINE_BYTES) throw new ChunkedError("trailer line too long");
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
