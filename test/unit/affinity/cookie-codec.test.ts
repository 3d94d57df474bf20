import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CookieCodec,
  isExpired,
  isSessionOver,
  MAX_CLOCK_SKEW_MS,
  MAX_COOKIE_VALUE_LENGTH,
  needsReissue,
} from "../../../src/data/affinity/cookie-codec.js";

const KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(32, 8);
const NOW = 1_700_000_123_456;

describe("CookieCodec", () => {
  const codec = new CookieCodec(KEY);

  it("round-trips a token and the issue time in whole seconds", () => {
    const token = codec.memberToken("10.0.0.1:8080");
    const value = codec.encode(token, NOW);
    expect(codec.decode(value)).toEqual({
      ok: true,
      token,
      issuedAtMs: 1_700_000_123_000,
      sessionStartMs: 1_700_000_123_000,
    });
  });

  it("has the documented layout and only cookie- and URL-safe characters", () => {
    const value = codec.encode(codec.memberToken("10.0.0.1:8080"), NOW);
    expect(value).toMatch(/^2\.[A-Za-z0-9_-]{22}\.[0-9a-z]+\.[0-9a-z]+\.[A-Za-z0-9_-]{22}$/);
    expect(value.split(".")[2]).toBe(Math.floor(NOW / 1000).toString(36));
    expect(value.split(".")[3]).toBe(Math.floor(NOW / 1000).toString(36));
    expect(value.length).toBeLessThan(72);
  });

  it("derives the token as HMAC-SHA256(key, 'member:' + endpoint)[0..16] and never shows the endpoint", () => {
    const token = codec.memberToken("[2001:db8::7]:443");
    const expected = createHmac("sha256", KEY).update("member:[2001:db8::7]:443").digest().subarray(0, 16);
    expect(token).toBe(expected.toString("base64url"));
    const value = codec.encode(token, NOW);
    expect(value).not.toContain("2001");
    expect(value).not.toContain("443");
  });

  it("gives the same token after a restart and on another instance with the same key, not with another key", () => {
    const again = new CookieCodec(Buffer.from(KEY));
    expect(again.memberToken("10.0.0.1:8080")).toBe(codec.memberToken("10.0.0.1:8080"));
    expect(again.decode(codec.encode(codec.memberToken("10.0.0.1:8080"), NOW)).ok).toBe(true);
    const other = new CookieCodec(OTHER_KEY);
    expect(other.memberToken("10.0.0.1:8080")).not.toBe(codec.memberToken("10.0.0.1:8080"));
    expect(other.decode(codec.encode(codec.memberToken("10.0.0.1:8080"), NOW))).toEqual({
      ok: false,
      reason: "forged",
    });
  });

  it("gives different members different tokens", () => {
    expect(codec.memberToken("10.0.0.1:8080")).not.toBe(codec.memberToken("10.0.0.1:8081"));
  });

  it("refuses any altered character as forged or malformed", () => {
    const value = codec.encode(codec.memberToken("10.0.0.1:8080"), NOW);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (let i = 2; i < value.length; i++) {
      if (value[i] === ".") continue;
      const replacement = alphabet[(alphabet.indexOf(value[i]!) + 1) % alphabet.length]!;
      const altered = value.slice(0, i) + replacement + value.slice(i + 1);
      const result = codec.decode(altered);
      expect(result.ok, altered).toBe(false);
    }
  });

  it("refuses a token moved onto another cookie's MAC (swapping members) as forged", () => {
    const a = codec.encode(codec.memberToken("10.0.0.1:8080"), NOW).split(".");
    const b = codec.encode(codec.memberToken("10.0.0.2:8080"), NOW).split(".");
    expect(codec.decode([a[0], b[1], a[2], a[3], a[4]].join("."))).toEqual({ ok: false, reason: "forged" });
  });

  it("refuses a changed issue time as forged", () => {
    const [v, t, , start, mac] = codec.encode(codec.memberToken("10.0.0.1:8080"), NOW).split(".");
    const later = Math.floor(NOW / 1000 + 3600).toString(36);
    expect(codec.decode(`${v}.${t}.${later}.${start}.${mac}`)).toEqual({ ok: false, reason: "forged" });
  });

  it("refuses a changed session start as forged (an absolute timeout cannot be pushed back)", () => {
    const token = codec.memberToken("10.0.0.1:8080");
    const [v, t, issued, , mac] = codec.encode(token, NOW, NOW - 3_600_000).split(".");
    const younger = Math.floor(NOW / 1000).toString(36);
    expect(codec.decode(`${v}.${t}.${issued}.${younger}.${mac}`)).toEqual({ ok: false, reason: "forged" });
  });

  it("reports another format version as version", () => {
    const value = codec.encode(codec.memberToken("10.0.0.1:8080"), NOW);
    expect(codec.decode(`3${value.slice(1)}`)).toEqual({ ok: false, reason: "version" });
    expect(codec.decode("7.anything")).toEqual({ ok: false, reason: "version" });
  });

  it("reports malformed values without throwing", () => {
    const token = codec.memberToken("10.0.0.1:8080");
    const good = codec.encode(token, NOW);
    const bad = [
      "",
      ".",
      "1",
      "1.",
      "1...",
      "x.y.z.w",
      `${good}.`,
      `.${good}`,
      good.replace(/\./g, "_"),
      `${good.slice(0, -1)}B`, // non-canonical last base64url character
      `1.${token}.-5.${good.split(".")[3]}`,
      `1.${token}.0${Math.floor(NOW / 1000).toString(36)}.${good.split(".")[3]}`, // leading zero
      `1.${token}.${Math.floor(NOW / 1000)
        .toString(36)
        .toUpperCase()}.${good.split(".")[3]}`,
      "1.\u00e9\u00e9\u00e9.1.x",
      "1".repeat(MAX_COOKIE_VALUE_LENGTH + 1),
      `${good}${" ".repeat(MAX_COOKIE_VALUE_LENGTH)}`,
    ];
    for (const value of bad) expect(codec.decode(value), value).toEqual({ ok: false, reason: "malformed" });
  });

  it("never throws and never accepts random input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        expect(codec.decode(s).ok).toBe(false);
      }),
    );
  });

  it("refuses keys shorter than 32 bytes and tokens it did not make", () => {
    expect(() => new CookieCodec(Buffer.alloc(31))).toThrow(RangeError);
    expect(() => codec.encode("10.0.0.1:8080", NOW)).toThrow(TypeError);
  });

  it("is not affected by later changes to the caller's key buffer", () => {
    const key = Buffer.alloc(32, 1);
    const c = new CookieCodec(key);
    const value = c.encode(c.memberToken("a:1"), NOW);
    key.fill(2);
    expect(c.decode(value).ok).toBe(true);
  });
});

describe("CookieCodec verified-value cache", () => {
  it("answers a returning value from the cache, per key, and keeps forged values out", () => {
    const codec = new CookieCodec(Buffer.alloc(32, 1));
    const value = codec.encode(codec.memberToken("10.0.0.1:8080"), NOW);
    const first = codec.decode(value);
    expect(codec.decode(value)).toEqual(first);
    expect(codec.verifiedCount).toBe(1);
    // Another key (another instance) never sees this cache and still refuses the value.
    expect(new CookieCodec(Buffer.alloc(32, 2)).decode(value)).toEqual({ ok: false, reason: "forged" });
    const forged = `${value.slice(0, -2)}${value.endsWith("AA") ? "QA" : "AA"}`;
    expect(codec.decode(forged).ok).toBe(false);
    expect(codec.verifiedCount).toBe(1);
  });

  it("stays bounded under a flood of distinct authentic values", () => {
    const codec = new CookieCodec(Buffer.alloc(32, 1));
    const token = codec.memberToken("10.0.0.1:8080");
    for (let i = 0; i < 10_500; i++) expect(codec.decode(codec.encode(token, NOW + i * 1000)).ok).toBe(true);
    expect(codec.verifiedCount).toBe(10_000);
  });
});

describe("cookie expiry and re-issue", () => {
  const ttl = 30 * 60_000;

  it("expires once the ttl has passed since issue", () => {
    expect(isExpired(NOW, NOW + ttl - 1, ttl)).toBe(false);
    expect(isExpired(NOW, NOW + ttl, ttl)).toBe(true);
  });

  it("expires a cookie that claims to come from beyond the allowed clock skew", () => {
    expect(isExpired(NOW + MAX_CLOCK_SKEW_MS, NOW, ttl)).toBe(false);
    expect(isExpired(NOW + MAX_CLOCK_SKEW_MS + 1, NOW, ttl)).toBe(true);
  });

  it("asks for a new cookie once a quarter of the ttl has passed", () => {
    expect(needsReissue(NOW, NOW + ttl / 4 - 1, ttl)).toBe(false);
    expect(needsReissue(NOW, NOW + ttl / 4, ttl)).toBe(true);
  });

  it("keeps an active client bound forever when it re-sends before the re-issued cookie expires", () => {
    const codec = new CookieCodec(KEY);
    const token = codec.memberToken("10.0.0.1:8080");
    let cookie = codec.encode(token, NOW);
    let now = NOW;
    for (let i = 0; i < 50; i++) {
      now += 0.7 * ttl; // a request every 0.7 ttl: always past the re-issue point, never past the ttl
      const decoded = codec.decode(cookie);
      if (!decoded.ok) throw new Error("cookie refused");
      expect(codec.isExpired(decoded.issuedAtMs, now, ttl)).toBe(false);
      if (codec.needsReissue(decoded.issuedAtMs, now, ttl)) cookie = codec.encode(decoded.token, now);
    }
  });
});

describe("encode cache", () => {
  it("gives one value per member and issue second, a new one the next second, each authentic", () => {
    const codec = new CookieCodec(KEY);
    const a = codec.memberToken("127.0.1.1:80");
    const b = codec.memberToken("127.0.1.2:80");
    const t = 1_700_000_000_000;
    const first = codec.encode(a, t);
    expect(codec.encode(a, t + 999)).toBe(first);
    expect(codec.encode(b, t)).not.toBe(first);
    const next = codec.encode(a, t + 1_000);
    expect(next).not.toBe(first);
    for (const [value, issued] of [
      [first, t],
      [next, t + 1_000],
    ] as const) {
      const decoded = codec.decode(value);
      expect(decoded.ok && decoded.token === a && decoded.issuedAtMs === issued).toBe(true);
    }
    // The cache never hides a bad token.
    expect(() => codec.encode("not-a-token", t)).toThrow(TypeError);
  });
});

/** A version 1 value (before tokens carried a session start), made as the old codec made it. */
function versionOneValue(key: Buffer, token: string, issuedAtMs: number): string {
  const issued = Math.floor(issuedAtMs / 1000).toString(36);
  const mac = createHmac("sha256", key).update(`1|${token}|${issued}`).digest().subarray(0, 16);
  return `1.${token}.${issued}.${mac.toString("base64url")}`;
}

describe("session start and absolute timeout", () => {
  const ttl = 60_000;
  const absolute = 5 * 60_000;

  it("keeps the session start across re-issues, so the absolute timeout counts from the first token", () => {
    const codec = new CookieCodec(KEY);
    const token = codec.memberToken("10.0.0.1:8080");
    const first = NOW - (NOW % 1000);
    let value = codec.encode(token, first);
    let now = first;
    const seen: number[] = [];
    // An active client: a request every half ttl, each past the re-issue point.
    for (let i = 0; i < 20; i++) {
      now += ttl / 2;
      const decoded = codec.decode(value);
      if (!decoded.ok) throw new Error("token refused");
      expect(decoded.sessionStartMs).toBe(first);
      expect(codec.isExpired(decoded.issuedAtMs, now, ttl)).toBe(false);
      if (isSessionOver(decoded.sessionStartMs, now, absolute)) {
        seen.push(now - first);
        break;
      }
      if (codec.needsReissue(decoded.issuedAtMs, now, ttl))
        value = codec.encode(token, now, decoded.sessionStartMs);
    }
    // Idle expiry never struck; the absolute deadline did, exactly at 5 minutes.
    expect(seen).toEqual([absolute]);
  });

  it("ends a session exactly at its absolute deadline, and never without one", () => {
    expect(isSessionOver(NOW, NOW + absolute - 1, absolute)).toBe(false);
    expect(isSessionOver(NOW, NOW + absolute, absolute)).toBe(true);
    expect(isSessionOver(NOW, NOW + 400 * 86_400_000, undefined)).toBe(false);
  });

  it("still reads version 1 tokens, their session starting when they were issued", () => {
    const codec = new CookieCodec(KEY);
    const token = codec.memberToken("10.0.0.1:8080");
    const old = versionOneValue(KEY, token, NOW);
    expect(codec.decode(old)).toEqual({
      ok: true,
      token,
      issuedAtMs: 1_700_000_123_000,
      sessionStartMs: 1_700_000_123_000,
    });
    // A version 1 value under another key, or altered, is still refused.
    expect(codec.decode(versionOneValue(OTHER_KEY, token, NOW))).toEqual({ ok: false, reason: "forged" });
    const [v, t, , mac] = old.split(".");
    expect(codec.decode(`${v}.${t}.${(Math.floor(NOW / 1000) + 60).toString(36)}.${mac}`)).toEqual({
      ok: false,
      reason: "forged",
    });
  });

  it("never lets a version 1 MAC stand for a version 2 value, or the reverse", () => {
    const codec = new CookieCodec(KEY);
    const token = codec.memberToken("10.0.0.1:8080");
    const [, , issued, mac1] = versionOneValue(KEY, token, NOW).split(".");
    expect(codec.decode(`2.${token}.${issued}.${issued}.${mac1}`)).toEqual({ ok: false, reason: "forged" });
    const [, , issued2, , mac2] = codec.encode(token, NOW).split(".");
    expect(codec.decode(`1.${token}.${issued2}.${mac2}`)).toEqual({ ok: false, reason: "forged" });
  });

  it("refuses a session start after the issue time, and never encodes one", () => {
    const codec = new CookieCodec(KEY);
    const token = codec.memberToken("10.0.0.1:8080");
    expect(() => codec.encode(token, NOW, NOW + 1_000)).toThrow(RangeError);
  });

  it("does not let the new-session cache answer a re-issue of an older session", () => {
    const codec = new CookieCodec(KEY);
    const token = codec.memberToken("10.0.0.1:8080");
    const fresh = codec.encode(token, NOW);
    const renewed = codec.encode(token, NOW, NOW - 60_000);
    expect(renewed).not.toBe(fresh);
    const decoded = codec.decode(renewed);
    expect(decoded.ok && decoded.sessionStartMs).toBe(Math.floor((NOW - 60_000) / 1000) * 1000);
    expect(codec.encode(token, NOW)).toBe(fresh);
  });
});
