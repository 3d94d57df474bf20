import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChunkedDecoder, ChunkedError } from "../../../src/data/http1/chunked-decoder.js";

function bytes(s: string): Buffer {
  return Buffer.from(s, "latin1");
}

/** A decoder that copies every piece of chunk data it is given. */
function recording(): { decoder: ChunkedDecoder; data: () => string; pieces: string[] } {
  const pieces: string[] = [];
  const decoder = new ChunkedDecoder((buf, start, end) => {
    pieces.push(buf.toString("latin1", start, end));
  });
  return { decoder, pieces, data: () => pieces.join("") };
}

/** Feeds `buf` in one piece; returns the index the decoder stopped at. */
function feedAll(decoder: ChunkedDecoder, buf: Buffer): number {
  return decoder.feed(buf, 0, buf.length);
}

/** Feeds `s` byte by byte to a fresh decoder; expects an error by the time it is all fed. */
function throwsByteByByte(s: string): unknown {
  const buf = bytes(s);
  const decoder = new ChunkedDecoder();
  try {
    for (let i = 0; i < buf.length && !decoder.done; i++) decoder.feed(buf, i, i + 1);
  } catch (e) {
    return e;
  }
  return undefined;
}

const BODY = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
const NEXT = "GET /next HTTP/1.1\r\n\r\n";

describe("ChunkedDecoder", () => {
  it("returns the index right after the final CRLF, leaving the next message alone", () => {
    const { decoder, data } = recording();
    const buf = bytes(BODY + NEXT);
    expect(decoder.done).toBe(false);
    expect(feedAll(decoder, buf)).toBe(BODY.length);
    expect(decoder.done).toBe(true);
    expect(data()).toBe("hello world");
  });

  it("returns end while the body goes on", () => {
    const decoder = new ChunkedDecoder();
    const buf = bytes(BODY);
    expect(decoder.feed(buf, 0, 10)).toBe(10);
    expect(decoder.done).toBe(false);
    expect(decoder.feed(buf, 10, BODY.length - 1)).toBe(BODY.length - 1);
    expect(decoder.done).toBe(false);
    expect(decoder.feed(buf, BODY.length - 1, BODY.length)).toBe(BODY.length);
    expect(decoder.done).toBe(true);
  });

  it("reaches done at exactly the last byte when fed byte by byte", () => {
    const { decoder, data } = recording();
    const buf = bytes(BODY + NEXT);
    for (let i = 0; i < BODY.length; i++) {
      expect(decoder.done).toBe(false);
      expect(decoder.feed(buf, i, i + 1)).toBe(i + 1);
    }
    expect(decoder.done).toBe(true);
    expect(data()).toBe("hello world");
    // Once done it consumes nothing more.
    expect(decoder.feed(buf, BODY.length, buf.length)).toBe(BODY.length);
  });

  it("works from an offset inside the buffer", () => {
    const prefix = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    const buf = bytes(prefix + BODY + NEXT);
    const { decoder, data } = recording();
    expect(decoder.feed(buf, prefix.length, buf.length)).toBe(prefix.length + BODY.length);
    expect(data()).toBe("hello world");
  });

  it("decodes a body with only the last chunk", () => {
    const { decoder, pieces } = recording();
    expect(feedAll(decoder, bytes("0\r\n\r\nX"))).toBe(5);
    expect(decoder.done).toBe(true);
    expect(pieces).toEqual([]);
  });

  it("reads hex sizes in either case and with leading zeros (up to 15 digits)", () => {
    const data = "0123456789abcdef0123456789";
    for (const size of ["1a", "1A", "01a", "00000000000001a"]) {
      const { decoder, data: got } = recording();
      const body = `${size}\r\n${data}\r\n0\r\n\r\n`;
      expect(feedAll(decoder, bytes(body + NEXT))).toBe(body.length);
      expect(got()).toBe(data);
    }
  });

  it("reads every hex digit, a-f and A-F", () => {
    for (const [size, length] of [
      ["f", 15],
      ["F", 15],
      ["Ff", 255],
      ["aBcD", 0xabcd],
      ["1e", 30],
      ["1E", 30],
      ["9", 9],
    ] as const) {
      const data = "d".repeat(length);
      const body = `${size}\r\n${data}\r\n0\r\n\r\n`;
      const { decoder, data: got } = recording();
      expect(feedAll(decoder, bytes(body + NEXT)), size).toBe(body.length);
      expect(got()).toBe(data);
    }
  });

  it("skips well-formed chunk extensions: token names, token or quoted-string values", () => {
    for (const body of [
      "5;a=b\r\nhello\r\n0\r\n\r\n",
      '5;a=b;c="x y"\r\nhello\r\n0;last\r\n\r\n',
      "5;a;b=c\r\nhello\r\n0;z\r\n\r\n",
      '5;a="\\"q\\" \t\xe9"\r\nhello\r\n0\r\n\r\n',
      "5;!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~09AZaz\r\nhello\r\n0\r\n\r\n",
    ]) {
      const { decoder, data } = recording();
      expect(feedAll(decoder, bytes(body + NEXT)), body).toBe(body.length);
      expect(decoder.done).toBe(true);
      expect(data()).toBe("hello");
    }
  });

  it("reads trailers and ends after the blank line that follows them", () => {
    for (const body of [
      "0\r\nX-T: 1\r\n\r\n",
      "3\r\nabc\r\n0\r\nX-T: 1\r\nX-U:\t2 \r\n\r\n",
      "0;e=1\r\nChecksum: abc\r\n\r\n",
    ]) {
      const decoder = new ChunkedDecoder();
      expect(feedAll(decoder, bytes(body + NEXT)), body).toBe(body.length);
      expect(decoder.done).toBe(true);
    }
  });

  it("reads trailers fed byte by byte", () => {
    const body = "3\r\nabc\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n";
    const buf = bytes(body + NEXT);
    const decoder = new ChunkedDecoder();
    for (let i = 0; i < body.length; i++) {
      expect(decoder.done).toBe(false);
      expect(decoder.feed(buf, i, i + 1)).toBe(i + 1);
    }
    expect(decoder.done).toBe(true);
  });

  it("gives onData exactly the data bytes, also when a chunk is split across feeds", () => {
    const body = "a\r\n0123456789\r\n3;x=y\r\n\r\n\n\r\n1\r\n\x00\r\n0\r\nT: v\r\n\r\n";
    const buf = bytes(body + NEXT);
    for (const cuts of [[5], [4, 8, 14], [3, 13, 15, 17, 24, 26], [body.length - 1]]) {
      const { decoder, data, pieces } = recording();
      let at = 0;
      for (const cut of [...cuts, buf.length]) {
        const stop = decoder.feed(buf, at, cut);
        if (decoder.done) {
          expect(stop).toBe(body.length);
          break;
        }
        expect(stop).toBe(cut);
        at = cut;
      }
      expect(decoder.done).toBe(true);
      expect(data()).toBe("0123456789\r\n\n\x00");
      expect(pieces.every((p) => p.length > 0)).toBe(true);
    }
  });

  it("hands a chunk split across feeds over in pieces, in order", () => {
    const body = "a\r\n0123456789\r\n0\r\n\r\n";
    const buf = bytes(body);
    const { decoder, pieces } = recording();
    decoder.feed(buf, 0, 6);
    decoder.feed(buf, 6, 10);
    decoder.feed(buf, 10, buf.length);
    expect(pieces).toEqual(["012", "3456", "789"]);
    expect(decoder.done).toBe(true);
  });

  it("needs no onData", () => {
    const decoder = new ChunkedDecoder();
    expect(feedAll(decoder, bytes(BODY))).toBe(BODY.length);
    expect(decoder.done).toBe(true);
  });

  describe("malformed framing throws ChunkedError", () => {
    it.each([
      ["a non-hex size", "g\r\nhello\r\n0\r\n\r\n"],
      ["a non-hex digit after hex digits", "5g\r\nhello\r\n0\r\n\r\n"],
      ["an empty size", "\r\nhello\r\n0\r\n\r\n"],
      ["an empty size before an extension", ";a=b\r\nhello\r\n0\r\n\r\n"],
      ["a 0x prefix", "0x10\r\n0123456789abcdef\r\n0\r\n\r\n"],
      ["a sign", "+5\r\nhello\r\n0\r\n\r\n"],
      ["a negative size", "-5\r\nhello\r\n0\r\n\r\n"],
      ["whitespace before the size", " 5\r\nhello\r\n0\r\n\r\n"],
      ["two sizes separated by a space", "5 6\r\nhello\r\n0\r\n\r\n"],
      ["16 digits", "0000000000000005\r\nhello\r\n0\r\n\r\n"],
      ["16 f digits", "ffffffffffffffff\r\n"],
      ["data longer than its size", "3\r\nabcd\r\n0\r\n\r\n"],
      ["data with no CRLF after it", "3\r\nabc0\r\n\r\n"],
      ["bare LF after the size", "5\nhello\r\n0\r\n\r\n"],
      ["bare LF after an extension", "5;a=b\nhello\r\n0\r\n\r\n"],
      ["bare LF after the data", "5\r\nhello\n0\r\n\r\n"],
      ["bare LF after the last chunk size", "0\n\r\n"],
      ["bare LF in a trailer", "0\r\nX-T: 1\n\r\n"],
      ["bare LF as the final line", "0\r\n\n"],
      ["bare LF as the final line after a trailer", "0\r\nX-T: 1\r\n\n"],
      ["bare CR after the size", "5\rhello\r\n0\r\n\r\n"],
      ["bare CR in an extension", "5;a\rb\r\nhello\r\n0\r\n\r\n"],
      ["bare CR after the data", "5\r\nhello\rX0\r\n\r\n"],
      ["bare CR in a trailer", "0\r\nX-T: 1\rY\r\n\r\n"],
      ["bare CR as the final line", "0\r\n\rX"],
      ["a control byte in an extension", "5;a\x00\r\nhello\r\n0\r\n\r\n"],
      ["DEL in an extension", "5;a\x7f\r\nhello\r\n0\r\n\r\n"],
      // Whitespace anywhere in a chunk-size line: llhttp refuses it, so a member behind us may too.
      ["a space after the size", "3 \r\nabc\r\n0\r\n\r\n"],
      ["a tab after the size", "5\t\r\nhello\r\n0\r\n\r\n"],
      ["a space after the last chunk size", "0 \r\n\r\n"],
      ["a space before an extension", "5 ;ext\r\nhello\r\n0\r\n\r\n"],
      ["a tab before an extension", "5\t;ext\r\nhello\r\n0\r\n\r\n"],
      ["a space after ';'", "5; ext\r\nhello\r\n0\r\n\r\n"],
      ["a space after an extension name", "5;ext ;b\r\nhello\r\n0\r\n\r\n"],
      ["a space before '='", "5;ext =v\r\nhello\r\n0\r\n\r\n"],
      ["a space after '='", "5;ext= v\r\nhello\r\n0\r\n\r\n"],
      ["an empty extension", "5;\r\nhello\r\n0\r\n\r\n"],
      ["an empty extension after another", "5;a;\r\nhello\r\n0\r\n\r\n"],
      ["an empty extension value", "5;a=\r\nhello\r\n0\r\n\r\n"],
      ["a quoted extension name", '5;"x"\r\nhello\r\n0\r\n\r\n'],
      ["obs-text in an extension name", "5;\xff\r\nhello\r\n0\r\n\r\n"],
      ["obs-text in an unquoted extension value", "5;a=\xff\r\nhello\r\n0\r\n\r\n"],
      ["a tab inside an extension", "5;a\tb\r\nhello\r\n0\r\n\r\n"],
      ["an unterminated quoted value", '5;a="x\r\nhello\r\n0\r\n\r\n'],
      ["bytes after a quoted value", '5;a="x"y\r\nhello\r\n0\r\n\r\n'],
      ["a control byte in a quoted value", '5;a="x\x01"\r\nhello\r\n0\r\n\r\n'],
      // The trailer section is a field section like a head (RFC 9112 7.1.2), read as strictly.
      ["NUL in a trailer value", "0\r\nX-T: v\x00w\r\n\r\n"],
      ["a control byte in a trailer value", "0\r\nX-T: a\x01b\r\n\r\n"],
      ["DEL in a trailer value", "0\r\nX-T: a\x7fb\r\n\r\n"],
      ["an obs-fold trailer line", "0\r\nX-T: v\r\n w\r\n\r\n"],
      ["a trailer line starting with a tab", "0\r\n\tX-T: v\r\n\r\n"],
      ["a space in a trailer name", "0\r\nX T: v\r\n\r\n"],
      ["a space before a trailer's colon", "0\r\nX-T : v\r\n\r\n"],
      ["a trailer line without a colon", "0\r\nGET /SMUGGLE2 HTTP/1.1\r\n\r\n"],
      ["a trailer with an empty name", "0\r\n: v\r\n\r\n"],
      ["obs-text in a trailer name", "0\r\nX\xffT: v\r\n\r\n"],
      ["Content-Length as a trailer", "0\r\nContent-Length: 5\r\n\r\n"],
      ["Transfer-Encoding as a trailer", "0\r\ntransfer-encoding: chunked\r\n\r\n"],
      ["Host as a trailer", "0\r\nHOST: b\r\n\r\n"],
      ["Connection as a trailer", "0\r\nConnection: close\r\n\r\n"],
      ["Trailer as a trailer", "0\r\nTrailer: X\r\n\r\n"],
    ])("%s", (_, body) => {
      expect(() => feedAll(new ChunkedDecoder(), bytes(body))).toThrow(ChunkedError);
      expect(throwsByteByByte(body)).toBeInstanceOf(ChunkedError);
    });

    it("accepts 15 digits (the bound) but not 16", () => {
      const ok = "00000000000000" + "3\r\nabc\r\n0\r\n\r\n";
      expect(feedAll(new ChunkedDecoder(), bytes(ok))).toBe(ok.length);
      expect(() => feedAll(new ChunkedDecoder(), bytes("0" + ok))).toThrow(ChunkedError);
    });

    it("refuses a chunk extension over 8 KiB", () => {
      const okay = `1;${"e".repeat(8191)}\r\nx\r\n0\r\n\r\n`;
      expect(feedAll(new ChunkedDecoder(), bytes(okay))).toBe(okay.length);
      const long = `1;${"e".repeat(9000)}\r\nx\r\n0\r\n\r\n`;
      expect(() => feedAll(new ChunkedDecoder(), bytes(long))).toThrow(ChunkedError);
    });

    it("refuses a trailer line over 8 KiB", () => {
      const long = `0\r\nX: ${"v".repeat(9000)}\r\n\r\n`;
      expect(() => feedAll(new ChunkedDecoder(), bytes(long))).toThrow(ChunkedError);
    });

    it("is an Error with a message", () => {
      try {
        feedAll(new ChunkedDecoder(), bytes("zz\r\n"));
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
        expect(e).toBeInstanceOf(ChunkedError);
        expect((e as Error).message).not.toBe("");
      }
    });

    it("throws only at the offending byte, having passed good data on", () => {
      const { decoder, data } = recording();
      const buf = bytes("3\r\nabc\r\n2\r\nxyz\r\n");
      expect(decoder.feed(buf, 0, 12)).toBe(12);
      expect(() => decoder.feed(buf, 12, buf.length)).toThrow(ChunkedError);
      expect(data()).toBe("abcxy");
    });
  });
});

describe("property: random chunk lists, split at random points", () => {
  const chunk = fc.uint8Array({ minLength: 1, maxLength: 300 });
  const extension = fc.constantFrom("", ";a=b", ";x", ';q="1 2"', ";k;l=m");
  const trailer = fc.constantFrom("", "X-T: 1\r\n", "A: b\r\nC: d\r\n");

  it("onData yields the concatenation and the end index is exact", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(chunk, extension, fc.boolean()), { maxLength: 12 }),
        extension,
        trailer,
        fc.array(fc.nat(), { maxLength: 10 }),
        (chunks, lastExt, trailers, rawCuts) => {
          const parts: Buffer[] = [];
          for (const [data, ext, upper] of chunks) {
            const size = data.length.toString(16);
            parts.push(
              bytes(`${upper ? size.toUpperCase() : size}${ext}\r\n`),
              Buffer.from(data),
              bytes("\r\n"),
            );
          }
          parts.push(bytes(`0${lastExt}\r\n${trailers}\r\n`));
          const body = Buffer.concat(parts);
          const buf = Buffer.concat([body, bytes(NEXT)]);
          const expected = Buffer.concat(chunks.map(([data]) => Buffer.from(data)));

          const cuts = [...new Set(rawCuts.map((c) => c % buf.length))].sort((a, b) => a - b);
          cuts.push(buf.length);
          const got: Buffer[] = [];
          const decoder = new ChunkedDecoder((b, s, e) => got.push(Buffer.from(b.subarray(s, e))));
          let at = 0;
          let stop = -1;
          for (const cut of cuts) {
            stop = decoder.feed(buf, at, cut);
            if (decoder.done) break;
            expect(stop).toBe(cut);
            at = cut;
          }
          expect(decoder.done).toBe(true);
          expect(stop).toBe(body.length);
          expect(Buffer.concat(got).equals(expected)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
