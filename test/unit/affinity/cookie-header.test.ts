import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  findCookie,
  MAX_COOKIE_HEADER_LENGTH,
  MAX_SET_COOKIE_LENGTH,
  parseCookieDate,
  parseSetCookie,
  serializeSetCookie,
} from "../../../src/data/affinity/cookie-header.js";

describe("findCookie", () => {
  it("finds a cookie among others", () => {
    expect(findCookie("a=1; STICKYLB=abc.def; b=2", "STICKYLB")).toBe("abc.def");
    expect(findCookie("STICKYLB=x", "STICKYLB")).toBe("x");
    expect(findCookie("a=1;b=2;STICKYLB=x", "STICKYLB")).toBe("x");
  });

  it("does not match a name that only starts or ends like the wanted one, nor a value", () => {
    expect(findCookie("STICKYLBX=1; XSTICKYLB=2; a=STICKYLB=3", "STICKYLB")).toBeUndefined();
    expect(findCookie("STICKYLBX=1; STICKYLB=4", "STICKYLB")).toBe("4");
  });

  it("compares names case-sensitively", () => {
    expect(findCookie("stickylb=1", "STICKYLB")).toBeUndefined();
  });

  it("takes the first occurrence", () => {
    expect(findCookie("S=first; S=second", "S")).toBe("first");
    expect(findCookie(["x=1", "S=first", "S=second"], "S")).toBe("first");
  });

  it("reads several Cookie headers", () => {
    expect(findCookie(["a=1; b=2", "S=v"], "S")).toBe("v");
    expect(findCookie([], "S")).toBeUndefined();
  });

  it("unquotes a quoted value and trims spaces and tabs", () => {
    expect(findCookie('S="quoted value"', "S")).toBe("quoted value");
    expect(findCookie("  S \t=\t v  ;x=1", "S")).toBe("v");
    expect(findCookie('S="', "S")).toBe('"');
    expect(findCookie('S=""', "S")).toBe("");
  });

  it("returns an empty value as empty, and ignores pairs without =", () => {
    expect(findCookie("S=; a=1", "S")).toBe("");
    expect(findCookie("S; a=1", "S")).toBeUndefined();
    expect(findCookie("S", "S")).toBeUndefined();
  });

  it("handles empty and degenerate headers", () => {
    for (const h of [undefined, "", ";", ";;;", "=", "==", " ; = ; "])
      expect(findCookie(h, "S")).toBeUndefined();
    expect(findCookie("=x", "")).toBeUndefined();
  });

  it("does not read past its bound", () => {
    const filler = `${"f=".padEnd(MAX_COOKIE_HEADER_LENGTH - 10, "x")}; `;
    expect(findCookie(`${filler}S=ok`, "S")).toBe("ok");
    const huge = `${"f=".padEnd(MAX_COOKIE_HEADER_LENGTH, "x")}; S=late`;
    expect(findCookie(huge, "S")).toBeUndefined();
    const cut = `${"f=1; ".padEnd(MAX_COOKIE_HEADER_LENGTH - 4, " ")}S=value-cut-by-the-limit`;
    expect(findCookie(cut, "S")).toBeUndefined();
  });

  it("never throws, and finds what a simple split finds on well-formed headers", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_-]{1,6}$/);
    const value = fc.stringMatching(/^[A-Za-z0-9._-]{0,8}$/);
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 8 }), name, (pairs, wanted) => {
        const header = pairs.map(([n, v]) => `${n}=${v}`).join("; ");
        expect(findCookie(header, wanted)).toBe(pairs.find(([n]) => n === wanted)?.[1]);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.string({ maxLength: 5 }), (h, n) => {
        findCookie(h, n);
        findCookie([h, h], n);
      }),
    );
  });
});

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

describe("parseSetCookie", () => {
  it("reads name and value", () => {
    expect(parseSetCookie("SESSION=abc123; Path=/; HttpOnly", NOW)).toEqual({
      name: "SESSION",
      value: "abc123",
      deletes: false,
    });
  });

  it("unquotes a quoted value", () => {
    expect(parseSetCookie('SESSION="abc"; Path=/', NOW)?.value).toBe("abc");
  });

  it("reads Max-Age case-insensitively; zero or negative deletes", () => {
    expect(parseSetCookie("S=v; max-age=1800", NOW)).toMatchObject({ maxAgeSeconds: 1800, deletes: false });
    expect(parseSetCookie("S=; MAX-AGE=0", NOW)).toMatchObject({ maxAgeSeconds: 0, deletes: true });
    expect(parseSetCookie("S=; Max-Age=-1", NOW)).toMatchObject({ maxAgeSeconds: -1, deletes: true });
    expect(parseSetCookie("S=; Max-Age=-0", NOW)).toMatchObject({ maxAgeSeconds: 0, deletes: true });
  });

  it("ignores a malformed Max-Age as RFC 6265 5.2.2 says", () => {
    for (const v of ["", "abc", "+5", "1.5", "0x10", " ", "5s"]) {
      expect(parseSetCookie(`S=v; Max-Age=${v}`, NOW), v).toMatchObject({
        deletes: false,
        maxAgeSeconds: undefined,
      });
    }
    expect(parseSetCookie("S=v; Max-Age=99999999999999999999", NOW)?.deletes).toBe(false);
    expect(parseSetCookie("S=v; Max-Age=-99999999999999999999", NOW)?.deletes).toBe(true);
  });

  it("deletes with an Expires not after now", () => {
    const past = parseSetCookie("S=; Expires=Thu, 01 Jan 1970 00:00:00 GMT", NOW);
    expect(past).toMatchObject({ deletes: true, expires: 0 });
    expect(parseSetCookie("S=v; expires=Fri, 16 Jan 2026 12:00:00 GMT", NOW)?.deletes).toBe(false);
    expect(parseSetCookie("S=v; Expires=Thu, 15 Jan 2026 12:00:00 GMT", NOW)?.deletes).toBe(true);
  });

  it("lets Max-Age win over Expires, and the last attribute of a kind win", () => {
    expect(parseSetCookie("S=v; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=60", NOW)?.deletes).toBe(
      false,
    );
    expect(parseSetCookie("S=v; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT", NOW)?.deletes).toBe(
      false,
    );
    expect(parseSetCookie("S=v; Max-Age=0; Max-Age=60", NOW)?.deletes).toBe(false);
    expect(parseSetCookie("S=v; Max-Age=60; Max-Age=0", NOW)?.deletes).toBe(true);
  });

  it("ignores an Expires it cannot read (Expires=0 is not a date)", () => {
    for (const v of [
      "0",
      "yesterday",
      "",
      "Thu, 31 Feb 2026 00:00:00 GMT",
      "Thu, 01 Jan 1970 25:00:00 GMT",
    ]) {
      expect(parseSetCookie(`S=v; Expires=${v}`, NOW), v).toMatchObject({
        deletes: false,
        expires: undefined,
      });
    }
  });

  it("refuses headers a browser would ignore, without throwing", () => {
    for (const h of ["", "novalue", "=v", " =v", "bad name=v", "a;b=c", "S\u0000=v", "é=v", ";S=v"]) {
      expect(parseSetCookie(h, NOW), JSON.stringify(h)).toBeUndefined();
    }
    expect(parseSetCookie(`S=${"v".repeat(MAX_SET_COOKIE_LENGTH)}`, NOW)).toBeUndefined();
  });

  it("keeps = inside the value and tolerates empty attributes", () => {
    expect(parseSetCookie("S=a=b==; ; ;Path", NOW)).toMatchObject({
      name: "S",
      value: "a=b==",
      deletes: false,
    });
  });

  it("never throws on arbitrary input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (h) => {
        parseSetCookie(h, NOW);
      }),
    );
  });
});

describe("parseCookieDate (RFC 6265 5.1.1)", () => {
  it("reads the common date formats", () => {
    const t = Date.UTC(2015, 9, 21, 7, 28, 0);
    expect(parseCookieDate("Wed, 21 Oct 2015 07:28:00 GMT")).toBe(t);
    expect(parseCookieDate("Wednesday, 21-Oct-15 07:28:00 GMT")).toBe(t);
    expect(parseCookieDate("Wed Oct 21 07:28:00 2015")).toBe(t);
    expect(parseCookieDate("21 october 2015 7:28:0")).toBe(t);
  });

  it("maps two-digit years as the RFC does", () => {
    expect(parseCookieDate("01 Jan 70 00:00:00")).toBe(0);
    expect(parseCookieDate("01 Jan 69 00:00:00")).toBe(Date.UTC(2069, 0, 1));
  });

  it("fails on missing parts and out-of-range fields", () => {
    for (const v of [
      "Jan 2015 00:00:00",
      "01 2015 00:00:00",
      "01 Jan 00:00:00",
      "01 Jan 2015",
      "01 Jan 1600 00:00:00",
      "00 Jan 2015 00:00:00",
      "01 Jan 2015 00:60:00",
    ]) {
      expect(parseCookieDate(v), v).toBeUndefined();
    }
  });
});

describe("serializeSetCookie", () => {
  const base = { path: "/", maxAgeSeconds: 1800, httpOnly: true, sameSite: "Lax" as const, secure: false };

  it("writes exactly the docs/reference/behaviour.md#http_cookie form", () => {
    expect(serializeSetCookie("STICKYLB", "1.a.b.c", base)).toBe(
      "STICKYLB=1.a.b.c; Path=/; Max-Age=1800; HttpOnly; SameSite=Lax",
    );
  });

  it("adds Secure, then Domain when one is given", () => {
    expect(serializeSetCookie("S", "v", { ...base, secure: true, domain: "example.com" })).toBe(
      "S=v; Path=/; Max-Age=1800; HttpOnly; SameSite=Lax; Secure; Domain=example.com",
    );
    expect(serializeSetCookie("S", "v", { ...base, domain: "" })).toBe(
      "S=v; Path=/; Max-Age=1800; HttpOnly; SameSite=Lax",
    );
  });

  it("leaves out HttpOnly when off and writes other SameSite values", () => {
    expect(serializeSetCookie("S", "v", { ...base, httpOnly: false, sameSite: "Strict", path: "/app" })).toBe(
      "S=v; Path=/app; Max-Age=1800; SameSite=Strict",
    );
  });

  it("writes whole non-negative seconds", () => {
    expect(serializeSetCookie("S", "v", { ...base, maxAgeSeconds: 59.9 })).toContain("Max-Age=59;");
    expect(serializeSetCookie("S", "v", { ...base, maxAgeSeconds: -3 })).toContain("Max-Age=0;");
  });

  it("refuses input that would break the header", () => {
    expect(() => serializeSetCookie("S;x", "v", base)).toThrow(TypeError);
    expect(() => serializeSetCookie("S", "v; Domain=evil", base)).toThrow(TypeError);
    expect(() => serializeSetCookie("S", "v\r\nX: 1", base)).toThrow(TypeError);
    expect(() => serializeSetCookie("S", "v", { ...base, path: "/;x" })).toThrow(TypeError);
    expect(() => serializeSetCookie("S", "v", { ...base, domain: "a\nb" })).toThrow(TypeError);
  });

  it("round-trips through parseSetCookie", () => {
    const header = serializeSetCookie("STICKYLB", "1.abc", { ...base, secure: true, domain: "x.test" });
    expect(parseSetCookie(header, NOW)).toEqual({
      name: "STICKYLB",
      value: "1.abc",
      deletes: false,
      maxAgeSeconds: 1800,
    });
  });
});
