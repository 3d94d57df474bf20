import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  HeadError,
  HeadScanner,
  MAX_HEAD_BYTES,
  MAX_HEADER_LINES,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from "../../../src/data/http1/head-parser.js";

/** Bytes as on the wire: one char, one byte (latin1). */
function bytes(s: string): Buffer {
  return Buffer.from(s, "latin1");
}

/** Scans `s` in one feed; returns the scanner's answer. */
function scanOnce(s: string | Buffer, maxBytes?: number): number | HeadError {
  const buf = typeof s === "string" ? bytes(s) : s;
  return new HeadScanner().feed(buf, 0, buf.length, maxBytes);
}

/** Scans then parses a request head that starts at 0; fails the test when the head is incomplete. */
function request(s: string): RequestHead | HeadError {
  const buf = bytes(s);
  const end = new HeadScanner().feed(buf, 0, buf.length);
  if (end instanceof HeadError) return end;
  if (end === -1) throw new Error("head incomplete");
  return parseRequestHead(buf, 0, end);
}

function response(s: string): ResponseHead | HeadError {
  const buf = bytes(s);
  const end = new HeadScanner().feed(buf, 0, buf.length);
  if (end instanceof HeadError) return end;
  if (end === -1) throw new Error("head incomplete");
  return parseResponseHead(buf, 0, end);
}

function expectRequest(s: string): RequestHead {
  const r = request(s);
  if (r instanceof HeadError) throw new Error(`refused (${r.status}): ${r.reason}`);
  return r;
}

function expectResponse(s: string): ResponseHead {
  const r = response(s);
  if (r instanceof HeadError) throw new Error(`refused (${r.status}): ${r.reason}`);
  return r;
}

/** The status a refused head is answered with, or "accepted". */
function statusOf(r: RequestHead | ResponseHead | HeadError | number): number | "accepted" {
  return r instanceof HeadError ? r.status : "accepted";
}

/** Feeds `full` to one scanner as a growing buffer cut at `cuts`; returns every answer. */
function feedGrowing(full: Buffer, cuts: number[]): (number | HeadError)[] {
  const scanner = new HeadScanner();
  return cuts.map((cut) => scanner.feed(Buffer.from(full.subarray(0, cut)), 0, cut));
}

const GET =
  "GET /path?q=1 HTTP/1.1\r\n" +
  "Host: example.com\r\n" +
  "accept: text/html\r\n" +
  "X-Mixed-CASE: \t value with  inner spaces \t \r\n" +
  "Accept: application/json\r\n" +
  "Empty:\r\n" +
  "Cookie: a=1\r\n" +
  "\r\n";

describe("HeadScanner", () => {
  it("returns the index just past the blank line of a complete head", () => {
    expect(scanOnce(GET)).toBe(GET.length);
  });

  it("does not consume bytes after the head (body or next request)", () => {
    const head = "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
    expect(scanOnce(head + "hello")).toBe(head.length);
    expect(scanOnce(head + "\r\n\r\n")).toBe(head.length);
  });

  it("returns -1 while the head is incomplete", () => {
    expect(scanOnce("GET / HTTP/1.1")).toBe(-1);
    expect(scanOnce("GET / HTTP/1.1\r\n")).toBe(-1);
    expect(scanOnce("GET / HTTP/1.1\r\nHost: a\r\n")).toBe(-1);
    expect(scanOnce("GET / HTTP/1.1\r\nHost: a\r\n\r")).toBe(-1);
  });

  it("finds the end of a head delivered byte by byte in a growing buffer", () => {
    const full = bytes(GET + "GET /next HTTP/1.1\r\n");
    const cuts = Array.from({ length: full.length }, (_, i) => i + 1);
    const answers = feedGrowing(full, cuts.slice(0, GET.length));
    expect(answers.slice(0, -1).every((a) => a === -1)).toBe(true);
    expect(answers.at(-1)).toBe(GET.length);
  });

  it("finds the end of a head delivered in uneven pieces, each cut point included", () => {
    const full = bytes(GET);
    // Cuts right after a CR, right after an LF, in the middle of a name and of the final CRLF.
    for (const cuts of [
      [3, 24, 25, 50, GET.length - 1, GET.length],
      [23, 40, GET.length - 2, GET.length],
      [1, 2, GET.length],
    ]) {
      const answers = feedGrowing(full, cuts);
      expect(answers).toEqual([...cuts.slice(0, -1).map(() => -1), GET.length]);
    }
  });

  it("reports the end once the blank line has arrived, even when more bytes came with it", () => {
    const full = bytes(GET + "body bytes");
    const answers = feedGrowing(full, [10, GET.length - 3, full.length]);
    expect(answers).toEqual([-1, -1, GET.length]);
  });

  it("works on a head that starts inside the buffer (start > 0)", () => {
    const prefix = "leftover bytes of an earlier message";
    const buf = bytes(prefix + GET + "tail");
    const end = new HeadScanner().feed(buf, prefix.length, buf.length);
    expect(end).toBe(prefix.length + GET.length);
    const head = parseRequestHead(buf, prefix.length, end as number);
    expect(head).toMatchObject({ method: "GET", target: "/path?q=1", minor: 1 });
  });

  it("scans a pipelined second request after the first with the same scanner", () => {
    const first = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n";
    const second = "HEAD /two HTTP/1.0\r\nHost: b\r\nX: y\r\n\r\n";
    const buf = bytes(first + second + "GET /thr");
    const scanner = new HeadScanner();
    const end1 = scanner.feed(buf, 0, buf.length);
    expect(end1).toBe(first.length);
    expect(parseRequestHead(buf, 0, end1 as number)).toEqual({
      method: "GET",
      target: "/one",
      minor: 1,
      raw: ["Host", "a"],
    });
    const end2 = scanner.feed(buf, end1 as number, buf.length);
    expect(end2).toBe(first.length + second.length);
    expect(parseRequestHead(buf, end1 as number, end2 as number)).toEqual({
      method: "HEAD",
      target: "/two",
      minor: 0,
      raw: ["Host", "b", "X", "y"],
    });
    expect(scanner.feed(buf, end2 as number, buf.length)).toBe(-1);
  });

  it("scans a pipelined second request that arrives byte by byte after the first", () => {
    const first = "GET /one HTTP/1.1\r\n\r\n";
    const second = "GET /two HTTP/1.1\r\nHost: b\r\n\r\n";
    const full = bytes(first + second);
    const scanner = new HeadScanner();
    expect(scanner.feed(full, 0, full.length)).toBe(first.length);
    for (let cut = first.length + 1; cut < full.length; cut++)
      expect(scanner.feed(Buffer.from(full.subarray(0, cut)), first.length, cut)).toBe(-1);
    expect(scanner.feed(full, first.length, full.length)).toBe(full.length);
  });

  it("reset() forgets a partly scanned head", () => {
    const scanner = new HeadScanner();
    expect(scanner.feed(bytes("GET / HTTP/1.1\r\nHo"), 0, 18)).toBe(-1);
    scanner.reset();
    const other = bytes("GET / HTTP/1.1\r\n\r\n");
    expect(scanner.feed(other, 0, other.length)).toBe(other.length);
  });

  describe("bare LF", () => {
    it.each([
      ["at the very start", "\nGET / HTTP/1.1\r\n\r\n"],
      ["ending the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n"],
      ["ending a header line", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"],
      ["ending the last header line", "GET / HTTP/1.1\r\nHost: a\n\r\n"],
      ["as the final blank line", "GET / HTTP/1.1\r\nHost: a\r\n\n"],
      ["as the final blank line right after the request line", "GET / HTTP/1.1\r\n\n"],
      ["as both line ends", "GET / HTTP/1.1\n\n"],
    ])("is refused with 400 %s", (_, head) => {
      expect(statusOf(scanOnce(head))).toBe(400);
    });

    it("is refused when it arrives on its own in a later feed", () => {
      const full = bytes("GET / HTTP/1.1\r\nHost: a\n\r\n");
      const answers = feedGrowing(
        full,
        Array.from({ length: full.length }, (_, i) => i + 1),
      );
      const lf = full.indexOf("\n", 17);
      expect(answers.slice(0, lf).every((a) => a === -1)).toBe(true);
      expect(statusOf(answers[lf]!)).toBe(400);
    });
  });

  it("refuses a bare LF opening a head that starts right after a CR (start > 0)", () => {
    // The byte before `start` belongs to the previous message: it must not pass for this LF's CR.
    const buf = bytes("body\r\nGET / HTTP/1.1\r\n\r\n");
    expect(statusOf(new HeadScanner().feed(buf, 5, buf.length))).toBe(400);
  });

  it("does not search the same bytes again when a head arrives in many pieces", () => {
    const full = bytes("GET / HTTP/1.1\r\n" + "X: y\r\n".repeat(500) + "\r\n");
    const scanner = new HeadScanner();
    let searches = 0;
    let answer: number | HeadError = -1;
    for (let cut = 1; cut <= full.length; cut++) {
      const piece = Buffer.from(full.subarray(0, cut));
      const indexOf = piece.indexOf.bind(piece);
      piece.indexOf = ((value: number, from?: number) => {
        searches++;
        return indexOf(value, from);
      }) as Buffer["indexOf"];
      answer = scanner.feed(piece, 0, cut);
    }
    expect(answer).toBe(full.length);
    // Each feed looks at its new bytes only: a couple of searches per feed, not one per line so far.
    expect(searches).toBeLessThanOrEqual(2 * full.length);
  });

  it("refuses a head that starts with an empty line (400)", () => {
    expect(statusOf(scanOnce("\r\nGET / HTTP/1.1\r\n\r\n"))).toBe(400);
    expect(statusOf(scanOnce("\r\n"))).toBe(400);
  });

  describe("size bound", () => {
    /** A head of exactly `size` bytes: request line, one big header, blank line. */
    function headOfSize(size: number): string {
      const start = "GET / HTTP/1.1\r\nX-Big: ";
      return start + "a".repeat(size - start.length - 4) + "\r\n\r\n";
    }

    it("accepts a head of exactly MAX_HEAD_BYTES", () => {
      const head = headOfSize(MAX_HEAD_BYTES);
      expect(head.length).toBe(MAX_HEAD_BYTES);
      expect(scanOnce(head)).toBe(MAX_HEAD_BYTES);
      expect(expectRequest(head).raw[1]).toHaveLength(MAX_HEAD_BYTES - 27);
    });

    it("refuses a complete head one byte over MAX_HEAD_BYTES with 431", () => {
      expect(statusOf(scanOnce(headOfSize(MAX_HEAD_BYTES + 1)))).toBe(431);
    });

    it("refuses 431 as soon as MAX_HEAD_BYTES arrived in one feed without a blank line", () => {
      const partial = "GET / HTTP/1.1\r\nX-Big: " + "a".repeat(MAX_HEAD_BYTES);
      expect(statusOf(scanOnce(partial))).toBe(431);
    });

    it("refuses 431 when the bytes come in several feeds and no blank line ever comes", () => {
      const full = bytes("GET / HTTP/1.1\r\n" + "X-Line: abcdefgh\r\n".repeat(5000));
      const scanner = new HeadScanner();
      let answer: number | HeadError = -1;
      let fed = 0;
      for (let cut = 4096; answer === -1 && cut <= full.length; cut += 4096) {
        answer = scanner.feed(Buffer.from(full.subarray(0, cut)), 0, cut);
        fed = cut;
      }
      expect(statusOf(answer)).toBe(431);
      expect(fed).toBe(MAX_HEAD_BYTES);
    });

    it("refuses 431 at the first feed that reaches the bound, fed in odd sizes", () => {
      const full = bytes("GET / HTTP/1.1\r\n" + "X: y\r\n".repeat(20_000));
      const scanner = new HeadScanner();
      for (let cut = 1000; cut < MAX_HEAD_BYTES; cut += 1000)
        expect(scanner.feed(Buffer.from(full.subarray(0, cut)), 0, cut)).toBe(-1);
      expect(
        statusOf(scanner.feed(Buffer.from(full.subarray(0, MAX_HEAD_BYTES + 7)), 0, MAX_HEAD_BYTES + 7)),
      ).toBe(431);
    });

    it("honours a smaller maxBytes", () => {
      const head = "GET / HTTP/1.1\r\n\r\n";
      expect(scanOnce(head, head.length)).toBe(head.length);
      expect(statusOf(scanOnce(head, head.length - 1))).toBe(431);
      expect(statusOf(scanOnce(head + "more", head.length - 1))).toBe(431);
    });

    it("does not count pipelined bytes after a small head against the bound", () => {
      const head = "GET / HTTP/1.1\r\n\r\n";
      const buf = Buffer.concat([bytes(head), Buffer.alloc(MAX_HEAD_BYTES * 2, 0x61)]);
      expect(scanOnce(buf)).toBe(head.length);
    });
  });
});

describe("parseRequestHead", () => {
  it("parses a GET with several headers: spelling, order, repeats, trimmed values", () => {
    expect(expectRequest(GET)).toEqual({
      method: "GET",
      target: "/path?q=1",
      minor: 1,
      raw: [
        "Host",
        "example.com",
        "accept",
        "text/html",
        "X-Mixed-CASE",
        "value with  inner spaces",
        "Accept",
        "application/json",
        "Empty",
        "",
        "Cookie",
        "a=1",
      ],
    });
  });

  it("keeps repeated headers repeated, in order", () => {
    const head = expectRequest("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nA: 3\r\na: 4\r\n\r\n");
    expect(head.raw).toEqual(["A", "1", "B", "2", "A", "3", "a", "4"]);
  });

  it("trims SP and HTAB around values but nothing else", () => {
    const head = expectRequest("GET / HTTP/1.1\r\nX:\t \tv\t v \t\r\nY:no-space\r\nZ:   \r\n\r\n");
    expect(head.raw).toEqual(["X", "v\t v", "Y", "no-space", "Z", ""]);
  });

  it("parses HTTP/1.0 as minor 0", () => {
    expect(expectRequest("GET / HTTP/1.0\r\n\r\n")).toEqual({
      method: "GET",
      target: "/",
      minor: 0,
      raw: [],
    });
  });

  it("accepts any token method and the four target forms", () => {
    expect(expectRequest("M-SEARCH * HTTP/1.1\r\n\r\n")).toMatchObject({ method: "M-SEARCH", target: "*" });
    expect(expectRequest("CONNECT example.com:443 HTTP/1.1\r\n\r\n").target).toBe("example.com:443");
    expect(expectRequest("GET http://a.example/x?y HTTP/1.1\r\n\r\n").target).toBe("http://a.example/x?y");
  });

  it("keeps obs-text bytes in values (latin1)", () => {
    const head = expectRequest("GET /caf%C3%A9 HTTP/1.1\r\nX: \xe9t\xe9\r\n\r\n");
    expect(head.target).toBe("/caf%C3%A9");
    expect(head.raw).toEqual(["X", "\xe9t\xe9"]);
  });

  it("accepts absolute-form targets of any scheme, with userinfo, port, query and fragment", () => {
    for (const target of [
      "http://a.example",
      "https://u@a.example:8443/x?y#z",
      "coap://[::1]/p",
      "http://a?x",
      "http://a/%41",
    ])
      expect(expectRequest(`GET ${target} HTTP/1.1\r\n\r\n`).target).toBe(target);
  });

  it("accepts every tchar in a header name", () => {
    const name = "!#$%&'*+-.^_`|~09azAZ";
    expect(expectRequest(`GET / HTTP/1.1\r\n${name}: v\r\n\r\n`).raw).toEqual([name, "v"]);
  });

  it("reads a head whose end was found with the scanner, starting at an offset", () => {
    const buf = bytes("xxGET /a HTTP/1.1\r\nH: v\r\n\r\nyy");
    expect(parseRequestHead(buf, 2, buf.length - 2)).toEqual({
      method: "GET",
      target: "/a",
      minor: 1,
      raw: ["H", "v"],
    });
  });

  describe("refusals", () => {
    it.each([
      ["bare CR inside a value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"],
      ["bare CR ending a value", "GET / HTTP/1.1\r\nX: a\r\r\n\r\n"],
      ["bare CR in a name", "GET / HTTP/1.1\r\nX\r: a\r\n\r\n"],
      ["a line that is a lone CR", "GET / HTTP/1.1\r\n\r\r\n\r\n"],
      ["bare CR in the request line", "GET /\r HTTP/1.1\r\n\r\n"],
      ["obs-fold with SP", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"],
      ["obs-fold with HTAB", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n"],
      ["a first header line starting with SP", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"],
      ["space before the colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"],
      ["HTAB before the colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"],
      ["an empty header name", "GET / HTTP/1.1\r\n: a\r\n\r\n"],
      ["a header line without colon", "GET / HTTP/1.1\r\nHost\r\n\r\n"],
      ["a space inside the name", "GET / HTTP/1.1\r\nX Y: a\r\n\r\n"],
      ["'@' in the name", "GET / HTTP/1.1\r\nX@Y: a\r\n\r\n"],
      ["'(' in the name", "GET / HTTP/1.1\r\nX(: a\r\n\r\n"],
      ["'/' in the name", "GET / HTTP/1.1\r\nX/Y: a\r\n\r\n"],
      ["'\"' in the name", 'GET / HTTP/1.1\r\nX"Y: a\r\n\r\n'],
      ["'{' in the name", "GET / HTTP/1.1\r\nX{: a\r\n\r\n"],
      ["a DEL in the name", "GET / HTTP/1.1\r\nX\x7f: a\r\n\r\n"],
      ["obs-text in the name", "GET / HTTP/1.1\r\nX\xe9: a\r\n\r\n"],
      ["NUL in a value", "GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n"],
      ["DEL in a value", "GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n"],
      ["\\x01 in a value", "GET / HTTP/1.1\r\nX: \x01\r\n\r\n"],
      ["\\x1f in a value", "GET / HTTP/1.1\r\nX: a\x1f\r\n\r\n"],
      ["VT in a value", "GET / HTTP/1.1\r\nX: a\x0bb\r\n\r\n"],
      ["a missing method", " / HTTP/1.1\r\n\r\n"],
      ["a non-token method", "G(T / HTTP/1.1\r\n\r\n"],
      ["a missing target (two spaces)", "GET  HTTP/1.1\r\n\r\n"],
      ["a missing target (one space)", "GET HTTP/1.1\r\n\r\n"],
      ["a request line with no spaces", "GET\r\n\r\n"],
      ["a space in the target", "GET /a b HTTP/1.1\r\n\r\n"],
      ["two spaces before the version", "GET /  HTTP/1.1\r\n\r\n"],
      ["HTAB as separator", "GET\t/ HTTP/1.1\r\n\r\n"],
      ["a control byte in the target", "GET /a\x01 HTTP/1.1\r\n\r\n"],
      ["DEL in the target", "GET /a\x7f HTTP/1.1\r\n\r\n"],
      // A request-target is ASCII (RFC 3986) in one of the forms of RFC 9112 3.2; llhttp refuses
      // anything else, so a member behind us may too.
      ["obs-text in the target (raw UTF-8)", "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n"],
      ["a lone obs-text byte in the target", "GET /\xff HTTP/1.1\r\n\r\n"],
      ["a relative target", "GET a/b HTTP/1.1\r\n\r\n"],
      ["a query-only target", "GET ?x HTTP/1.1\r\n\r\n"],
      ["authority-form outside CONNECT", "GET example.com:443 HTTP/1.1\r\n\r\n"],
      ["an absolute-form target without a host", "GET http:///x HTTP/1.1\r\n\r\n"],
      ["a quote in an absolute-form host", 'GET http://h"x HTTP/1.1\r\n\r\n'],
      ["a scheme that does not start with a letter", "GET 1http://h/ HTTP/1.1\r\n\r\n"],
      ["a scheme with '+'", "GET h2c+x://h/ HTTP/1.1\r\n\r\n"],
      ["a fragment right after the authority", "GET http://a#f HTTP/1.1\r\n\r\n"],
      ["a missing version", "GET /\r\n\r\n"],
      ["a trailing space after the version", "GET / HTTP/1.1 \r\n\r\n"],
      ["garbage version HTTX/1.1", "GET / HTTX/1.1\r\n\r\n"],
      ["lower-case version", "GET / http/1.1\r\n\r\n"],
      ["version HTTP/1", "GET / HTTP/1\r\n\r\n"],
      ["version HTTP/1.10", "GET / HTTP/1.10\r\n\r\n"],
      ["version HTTP/1.x", "GET / HTTP/1.x\r\n\r\n"],
      ["version HTTP/11.1", "GET / HTTP/11.1\r\n\r\n"],
    ])("refuses %s with 400", (_, head) => {
      const r = request(head);
      expect(r).toBeInstanceOf(HeadError);
      expect(statusOf(r)).toBe(400);
    });

    it.each(["HTTP/2.0", "HTTP/1.2", "HTTP/3.0", "HTTP/0.9"])(
      "refuses the well-formed but unknown version %s with 505",
      (version) => {
        expect(statusOf(request(`GET / ${version}\r\nHost: a\r\n\r\n`))).toBe(505);
      },
    );

    it("refuses more than MAX_HEADER_LINES header lines with 431", () => {
      const lines = "a: b\r\n".repeat(MAX_HEADER_LINES + 1);
      expect(statusOf(request(`GET / HTTP/1.1\r\n${lines}\r\n`))).toBe(431);
    });

    it("accepts exactly MAX_HEADER_LINES header lines", () => {
      const lines = "a: b\r\n".repeat(MAX_HEADER_LINES);
      expect(expectRequest(`GET / HTTP/1.1\r\n${lines}\r\n`).raw).toHaveLength(2 * MAX_HEADER_LINES);
    });

    it("gives a reason for the logs", () => {
      const r = request("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n");
      expect(r).toBeInstanceOf(HeadError);
      expect((r as HeadError).reason).toMatch(/obs-fold/);
    });
  });
});

describe("parseResponseHead", () => {
  it("parses HTTP/1.1 200 OK with headers as for requests", () => {
    expect(
      expectResponse(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nset-cookie:\t b=2 \r\n\r\n",
      ),
    ).toEqual({
      status: 200,
      reason: "OK",
      minor: 1,
      raw: ["Content-Type", "text/plain", "Set-Cookie", "a=1", "set-cookie", "b=2"],
    });
  });

  it("parses HTTP/1.0 as minor 0 and keeps a reason with spaces and HTAB", () => {
    expect(expectResponse("HTTP/1.0 404 Not  Found\there\r\n\r\n")).toEqual({
      status: 404,
      reason: "Not  Found\there",
      minor: 0,
      raw: [],
    });
  });

  it("accepts an empty reason with the trailing space", () => {
    expect(expectResponse("HTTP/1.1 204 \r\n\r\n")).toMatchObject({ status: 204, reason: "" });
  });

  it("accepts an empty reason without the trailing space", () => {
    expect(expectResponse("HTTP/1.1 204\r\n\r\n")).toMatchObject({ status: 204, reason: "" });
  });

  it("accepts obs-text in the reason", () => {
    expect(expectResponse("HTTP/1.1 200 D\xe9j\xe0 vu\r\n\r\n").reason).toBe("D\xe9j\xe0 vu");
  });

  it.each([100, 101, 199, 301, 599, 999])("accepts status %i", (status) => {
    expect(expectResponse(`HTTP/1.1 ${status} X\r\n\r\n`).status).toBe(status);
  });

  it.each([
    ["a 2-digit status", "HTTP/1.1 20 OK\r\n\r\n"],
    ["a 2-digit status at the end of the line", "HTTP/1.1 20\r\n\r\n"],
    ["a 1-digit status", "HTTP/1.1 2\r\n\r\n"],
    ["a 4-digit status", "HTTP/1.1 2000 OK\r\n\r\n"],
    ["status 099", "HTTP/1.1 099 Low\r\n\r\n"],
    ["status 000", "HTTP/1.1 000\r\n\r\n"],
    ["a letter in the status", "HTTP/1.1 2a0 OK\r\n\r\n"],
    ["a sign before the status", "HTTP/1.1 +20 OK\r\n\r\n"],
    ["no status", "HTTP/1.1 \r\n\r\n"],
    ["no status and no space", "HTTP/1.1\r\n\r\n"],
    ["two spaces before the status", "HTTP/1.1  200 OK\r\n\r\n"],
    ["HTAB before the reason", "HTTP/1.1 200\tOK\r\n\r\n"],
    ["an unknown version", "HTTP/2.0 200 OK\r\n\r\n"],
    ["a garbage version", "HTTX/1.1 200 OK\r\n\r\n"],
    ["a lower-case version", "http/1.1 200 OK\r\n\r\n"],
    ["NUL in the reason", "HTTP/1.1 200 O\x00K\r\n\r\n"],
    ["DEL in the reason", "HTTP/1.1 200 O\x7fK\r\n\r\n"],
    ["bare CR in the reason", "HTTP/1.1 200 O\rK\r\n\r\n"],
    ["obs-fold in the headers", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"],
    ["space before a colon", "HTTP/1.1 200 OK\r\nX : a\r\n\r\n"],
    ["an empty header name", "HTTP/1.1 200 OK\r\n: a\r\n\r\n"],
    ["a control byte in a value", "HTTP/1.1 200 OK\r\nX: a\x00\r\n\r\n"],
  ])("refuses %s with 400", (_, head) => {
    const r = response(head);
    expect(r).toBeInstanceOf(HeadError);
    expect(statusOf(r)).toBe(400);
  });

  it("refuses a bare LF in a response head (scanner)", () => {
    expect(statusOf(scanOnce("HTTP/1.1 200 OK\nX: a\r\n\r\n"))).toBe(400);
  });

  it("refuses more than MAX_HEADER_LINES header lines with 431", () => {
    const lines = "a: b\r\n".repeat(MAX_HEADER_LINES + 1);
    expect(statusOf(response(`HTTP/1.1 200 OK\r\n${lines}\r\n`))).toBe(431);
  });

  it("parses a response head at an offset, leaving the body alone", () => {
    const head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
    const buf = bytes("zz" + head + "hi");
    const end = new HeadScanner().feed(buf, 2, buf.length);
    expect(end).toBe(2 + head.length);
    expect(parseResponseHead(buf, 2, end as number)).toEqual({
      status: 200,
      reason: "OK",
      minor: 1,
      raw: ["Content-Length", "2"],
    });
  });
});

describe("property: header pairs survive serialization and arbitrary splitting", () => {
  const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  /** VCHAR and obs-text: what a value may start and end with. */
  const VISIBLE: string[] = [];
  for (let c = 0x21; c < 0x100; c++) if (c !== 0x7f) VISIBLE.push(String.fromCharCode(c));

  const name = fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 20 });
  const inner = fc.string({ unit: fc.constantFrom(...VISIBLE, " ", "\t"), maxLength: 30 });
  const visible = fc.constantFrom(...VISIBLE);
  /** "" or a value that starts and ends with a visible byte (the parser trims SP/HTAB). */
  const value = fc.oneof(
    fc.constant(""),
    visible,
    fc.tuple(visible, inner, visible).map(([a, b, c]) => a + b + c),
  );
  const ows = fc.constantFrom("", " ", "\t", "  ", " \t ");

  it("parseRequestHead returns exactly the serialized pairs", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(name, ows, value, ows), { maxLength: 25 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.constantFrom("GET", "POST", "M-SEARCH"),
        fc.constantFrom(0, 1),
        (fields, rawCuts, method, minor) => {
          const head =
            `${method} /t?x=1 HTTP/1.${minor}\r\n` +
            fields.map(([n, before, v, after]) => `${n}:${before}${v}${after}\r\n`).join("") +
            "\r\n";
          const next = "GET /next HTTP/1.1\r\n";
          const full = bytes(head + next);
          const cuts = [...new Set(rawCuts.map((c) => 1 + (c % full.length)))].sort((a, b) => a - b);
          if (cuts.at(-1) !== full.length) cuts.push(full.length);

          const scanner = new HeadScanner();
          let end: number | HeadError = -1;
          for (const cut of cuts) {
            end = scanner.feed(Buffer.from(full.subarray(0, cut)), 0, cut);
            if (end !== -1) {
              expect(cut).toBeGreaterThanOrEqual(head.length);
              break;
            }
            expect(cut).toBeLessThan(head.length);
          }
          expect(end).toBe(head.length);
          const parsed = parseRequestHead(full, 0, end as number);
          expect(parsed).toEqual({
            method,
            target: "/t?x=1",
            minor,
            raw: fields.flatMap(([n, , v]) => [n, v]),
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("parseResponseHead returns exactly the serialized pairs", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(name, ows, value, ows), { maxLength: 25 }),
        fc.integer({ min: 100, max: 999 }),
        (fields, status) => {
          const head =
            `HTTP/1.1 ${status} Some Reason\r\n` +
            fields.map(([n, before, v, after]) => `${n}:${before}${v}${after}\r\n`).join("") +
            "\r\n";
          expect(response(head)).toEqual({
            status,
            reason: "Some Reason",
            minor: 1,
            raw: fields.flatMap(([n, , v]) => [n, v]),
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});
