import { describe, expect, it } from "vitest";
import { FramingError, NO_BODY, requestFraming, responseFraming } from "../../../src/data/http1/framing.js";

const CL = "Content-Length";
const TE = "Transfer-Encoding";

describe("requestFraming", () => {
  it("gives no body without framing headers", () => {
    expect(requestFraming([], 1)).toEqual(NO_BODY);
    expect(requestFraming(["Host", "a", "Accept", "*/*"], 1)).toEqual({ kind: "none" });
    expect(requestFraming([], 0)).toEqual(NO_BODY);
  });

  it("gives no body for Content-Length: 0", () => {
    expect(requestFraming([CL, "0"], 1)).toEqual(NO_BODY);
    expect(requestFraming([CL, "000"], 0)).toEqual(NO_BODY);
  });

  it("reads a Content-Length", () => {
    expect(requestFraming([CL, "5"], 1)).toEqual({ kind: "length", length: 5 });
    expect(requestFraming(["Host", "a", CL, "1024", "X", "y"], 0)).toEqual({ kind: "length", length: 1024 });
    expect(requestFraming([CL, "007"], 1)).toEqual({ kind: "length", length: 7 });
  });

  it("reads a Content-Length of 15 digits exactly", () => {
    expect(requestFraming([CL, "999999999999999"], 1)).toEqual({
      kind: "length",
      length: 999_999_999_999_999,
    });
  });

  it("matches the Content-Length name case-insensitively", () => {
    expect(requestFraming(["content-length", "5"], 1)).toEqual({ kind: "length", length: 5 });
    expect(requestFraming(["CONTENT-LENGTH", "5"], 1)).toEqual({ kind: "length", length: 5 });
    expect(requestFraming(["Content-length", "5"], 1)).toEqual({ kind: "length", length: 5 });
  });

  it("ignores look-alike names", () => {
    expect(requestFraming(["Content-Lengths", "5"], 1)).toEqual(NO_BODY);
    expect(requestFraming(["X-Content-Length", "5"], 1)).toEqual(NO_BODY);
    expect(requestFraming(["Transfer-Encodings", "chunked"], 1)).toEqual(NO_BODY);
  });

  it.each([
    ["a list of differing values", [CL, "5, 6"]],
    ["differing values, equal first and last", [CL, "5, 6, 5"]],
    ["two differing headers", [CL, "5", CL, "6"]],
    ["two differing headers, one of them 0", [CL, "0", "content-length", "6"]],
    // Equal values too: llhttp refuses a list or a repeated header, so a member behind us may.
    ["a list of equal values", [CL, "5, 5"]],
    ["a list of equal values without spaces", [CL, "5,5,5"]],
    ["a list of equal values with whitespace", [CL, "5 ,\t5"]],
    ["two equal headers", [CL, "5", "content-length", "5"]],
    ["two equal headers, one a list", [CL, "5", CL, "5, 05"]],
  ])("refuses %s", (_, raw) => {
    expect(requestFraming(raw, 1)).toBeInstanceOf(FramingError);
  });

  it.each([
    ["+5"],
    ["-5"],
    ["0x5"],
    ["5 5"],
    [""],
    [" "],
    ["5,"],
    [",5"],
    ["5,,5"],
    ["5.0"],
    ["1e3"],
    ["five"],
    ["\u0665"], // ARABIC-INDIC DIGIT FIVE: Number() would not accept it, but it is no DIGIT either
    ["0000000000000005"], // 16 digits
    ["1234567890123456"],
    ["99999999999999999999"],
  ])("refuses Content-Length %j", (value) => {
    const r = requestFraming([CL, value], 1);
    expect(r).toBeInstanceOf(FramingError);
    expect((r as FramingError).reason).toMatch(/Content-Length/);
  });

  it("reads a lone chunked coding, name and value case-insensitively", () => {
    for (const [name, value] of [
      [TE, "chunked"],
      ["transfer-encoding", "chunked"],
      ["TRANSFER-ENCODING", "Chunked"],
      [TE, "CHUNKED"],
    ] as const) {
      expect(requestFraming([name, value], 1), `${name}: ${value}`).toEqual({ kind: "chunked" });
    }
  });

  it("refuses Transfer-Encoding with Content-Length, in either order and whatever their values", () => {
    expect(requestFraming([TE, "chunked", CL, "5"], 1)).toBeInstanceOf(FramingError);
    expect(requestFraming([CL, "5", TE, "chunked"], 1)).toBeInstanceOf(FramingError);
    expect(requestFraming([CL, "0", TE, "chunked"], 1)).toBeInstanceOf(FramingError);
    expect(requestFraming(["content-length", "5", "transfer-encoding", "CHUNKED"], 1)).toBeInstanceOf(
      FramingError,
    );
  });

  it.each([
    ["gzip, chunked"],
    ["identity"],
    ["gzip"],
    ["chunked, chunked"],
    ["chunked, identity"],
    ["chunked;q=1"],
    ["xchunked"],
    [""],
  ])("refuses Transfer-Encoding %j", (value) => {
    expect(requestFraming([TE, value], 1)).toBeInstanceOf(FramingError);
  });

  it("refuses codings spread over two Transfer-Encoding headers", () => {
    expect(requestFraming([TE, "gzip", TE, "chunked"], 1)).toBeInstanceOf(FramingError);
    expect(requestFraming([TE, "chunked", TE, "chunked"], 1)).toBeInstanceOf(FramingError);
  });

  it("refuses Transfer-Encoding in an HTTP/1.0 request", () => {
    expect(requestFraming([TE, "chunked"], 0)).toBeInstanceOf(FramingError);
    expect(requestFraming([TE, "identity"], 0)).toBeInstanceOf(FramingError);
  });

  it("refuses an invalid Content-Length even next to a valid one", () => {
    expect(requestFraming([CL, "5", CL, "abc"], 1)).toBeInstanceOf(FramingError);
    expect(requestFraming([CL, "abc", CL, "5"], 1)).toBeInstanceOf(FramingError);
  });

  // The head parser trims only SP and HTAB and lets obs-text through, so a value may carry a
  // NO-BREAK SPACE (0xA0). It is not OWS and not a DIGIT: such a value is as malformed as "5x".
  it("refuses a Content-Length padded with NO-BREAK SPACE (0xA0)", () => {
    expect(requestFraming([CL, "5\u00a0"], 1)).toBeInstanceOf(FramingError);
    expect(requestFraming([CL, "\u00a05"], 1)).toBeInstanceOf(FramingError);
  });

  it("refuses a Transfer-Encoding of chunked padded with NO-BREAK SPACE (0xA0)", () => {
    expect(requestFraming([TE, "chunked\u00a0"], 1)).toBeInstanceOf(FramingError);
  });
});

describe("responseFraming", () => {
  it.each([
    ["HEAD", 200],
    ["GET", 100],
    ["GET", 101],
    ["GET", 199],
    ["POST", 204],
    ["GET", 304],
  ])("gives no body to a response to %s with status %i, even with framing headers", (method, status) => {
    expect(responseFraming([], status, method)).toEqual(NO_BODY);
    expect(responseFraming([CL, "10"], status, method)).toEqual(NO_BODY);
    expect(responseFraming([TE, "chunked"], status, method)).toEqual(NO_BODY);
    // Not even read: a HEAD, 1xx, 204 or 304 never has a body, whatever the headers say.
    expect(responseFraming([CL, "5", CL, "6"], status, method)).toEqual(NO_BODY);
  });

  it("does not treat a lower-case 'head' method as HEAD", () => {
    expect(responseFraming([CL, "3"], 200, "head")).toEqual({ kind: "length", length: 3 });
  });

  it("reads chunked framing", () => {
    expect(responseFraming([TE, "chunked"], 200, "GET")).toEqual({ kind: "chunked" });
    expect(responseFraming(["transfer-encoding", "Chunked"], 500, "POST")).toEqual({ kind: "chunked" });
  });

  it("reads chunked framing when chunked is the final coding", () => {
    expect(responseFraming([TE, "gzip, chunked"], 200, "GET")).toEqual({ kind: "chunked" });
    expect(responseFraming([TE, "gzip,chunked"], 200, "GET")).toEqual({ kind: "chunked" });
    expect(responseFraming([TE, "gzip", TE, "chunked"], 200, "GET")).toEqual({ kind: "chunked" });
  });

  it("reads until close when chunked is not the final coding", () => {
    expect(responseFraming([TE, "gzip"], 200, "GET")).toEqual({ kind: "close" });
    expect(responseFraming([TE, "chunked, gzip"], 200, "GET")).toEqual({ kind: "close" });
    expect(responseFraming([TE, "identity"], 200, "GET")).toEqual({ kind: "close" });
  });

  it("does not read chunked in a final coding padded with NO-BREAK SPACE (0xA0)", () => {
    expect(responseFraming([TE, "chunked\u00a0"], 200, "GET")).toEqual({ kind: "close" });
    expect(responseFraming([TE, "gzip,\u00a0chunked"], 200, "GET")).toEqual({ kind: "close" });
    expect(responseFraming([CL, "5\u00a0"], 200, "GET")).toBeInstanceOf(FramingError);
  });

  it("reads a Content-Length", () => {
    expect(responseFraming([CL, "42"], 200, "GET")).toEqual({ kind: "length", length: 42 });
    expect(responseFraming(["content-length", "42"], 404, "POST")).toEqual({ kind: "length", length: 42 });
  });

  it("refuses equal Content-Length values in a list or repeated, as llhttp does", () => {
    expect(responseFraming(["content-length", "42, 42"], 404, "POST")).toBeInstanceOf(FramingError);
    expect(responseFraming([CL, "42", CL, "42"], 200, "GET")).toBeInstanceOf(FramingError);
  });

  it("gives no body for Content-Length: 0", () => {
    expect(responseFraming([CL, "0"], 200, "GET")).toEqual(NO_BODY);
  });

  it("reads until close without framing headers", () => {
    expect(responseFraming([], 200, "GET")).toEqual({ kind: "close" });
    expect(responseFraming(["Content-Type", "text/plain"], 500, "POST")).toEqual({ kind: "close" });
  });

  it("refuses Transfer-Encoding with Content-Length", () => {
    expect(responseFraming([TE, "chunked", CL, "5"], 200, "GET")).toBeInstanceOf(FramingError);
    expect(responseFraming([CL, "5", TE, "gzip"], 200, "GET")).toBeInstanceOf(FramingError);
  });

  it("refuses differing Content-Length values", () => {
    expect(responseFraming([CL, "5", CL, "6"], 200, "GET")).toBeInstanceOf(FramingError);
    expect(responseFraming([CL, "5, 6"], 200, "GET")).toBeInstanceOf(FramingError);
  });

  it.each([["+5"], ["0x5"], ["5 5"], [""], ["0000000000000005"]])("refuses Content-Length %j", (value) => {
    expect(responseFraming([CL, value], 200, "GET")).toBeInstanceOf(FramingError);
  });
});
