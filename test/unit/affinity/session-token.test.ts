/**
 * The token rules shared by HTTP_COOKIE and HTTP_HEADER, with an injected clock (plain numbers):
 * what a request's token proposes, which token a response carries, the cookie's Max-Age, and where
 * the header variant finds its token.
 */
import { describe, expect, it } from "vitest";
import type { SessionPersistence } from "../../../src/core/model.js";
import { CookieCodec } from "../../../src/data/affinity/cookie-codec.js";
import { memberSetsHeader, requestHeaderToken } from "../../../src/data/affinity/http-header-affinity.js";
import { InsertedCookies, maxAgeSeconds } from "../../../src/data/affinity/inserted-cookies.js";
import { MemberTokens, readToken, tokenToIssue } from "../../../src/data/affinity/session-token.js";
import { MemberRuntime } from "../../../src/data/upstream/member-runtime.js";

const codec = new CookieCodec(Buffer.alloc(32, 3));
const a = new MemberRuntime("web", "127.0.1.1", 80, 1);
const b = new MemberRuntime("web", "127.0.1.2", 80, 1);
const tokens = new MemberTokens(codec, [a, b]);
const T0 = 1_700_000_000_000;
const MIN = 60_000;

function persistence(extra: Partial<SessionPersistence> = {}): SessionPersistence {
  return {
    type: "HTTP_HEADER",
    headerName: "X-Session",
    persistenceTimeoutMs: 10 * MIN,
    cookieName: "",
    cookie: { path: "/", domain: "", sameSite: "Lax", secure: "auto", httpOnly: true },
    maxBindings: 1,
    ...extra,
  };
}

describe("readToken", () => {
  const p = persistence({ absoluteTimeoutMs: 60 * MIN });

  it("finds the member, issue time and session start of a valid token", () => {
    const value = codec.encode(codec.memberToken(a.endpoint), T0 + 5 * MIN, T0);
    const found = readToken(codec, p, value, T0 + 6 * MIN);
    expect(found).toEqual({
      kind: "bound",
      token: codec.memberToken(a.endpoint),
      issuedAt: T0 + 5 * MIN,
      sessionStart: T0,
    });
    if (found.kind === "bound") expect(tokens.memberByToken(found.token)).toBe(a);
  });

  it("says none without a token, invalid for a bad one, expired when idle or past the absolute timeout", () => {
    expect(readToken(codec, p, undefined, T0).kind).toBe("none");
    expect(readToken(codec, p, "2.nope", T0).kind).toBe("invalid");
    const fresh = codec.encode(codec.memberToken(a.endpoint), T0);
    expect(readToken(codec, p, fresh, T0 + 10 * MIN).kind).toBe("expired");
    // Renewed a minute ago (so not idle), but its session began an hour ago.
    const renewed = codec.encode(codec.memberToken(a.endpoint), T0 + 59 * MIN, T0);
    expect(readToken(codec, p, renewed, T0 + 60 * MIN - 1).kind).toBe("bound");
    expect(readToken(codec, p, renewed, T0 + 60 * MIN).kind).toBe("expired");
    // Without an absolute timeout the same token is fine for its idle time.
    expect(readToken(codec, persistence(), renewed, T0 + 60 * MIN).kind).toBe("bound");
  });
});

describe("tokenToIssue", () => {
  const p = persistence({ absoluteTimeoutMs: 60 * MIN });

  it("starts a new session for a client without a valid token", () => {
    const issued = tokenToIssue(
      tokens,
      p,
      { honoured: undefined, issuedAt: 0, sessionStart: undefined },
      a,
      T0 + 1_234,
    )!;
    expect(issued).toMatchObject({ issuedAt: T0 + 1_000, sessionStart: T0 + 1_000 });
    expect(codec.decode(issued.value)).toMatchObject({
      ok: true,
      token: codec.memberToken(a.endpoint),
      sessionStartMs: T0 + 1_000,
    });
  });

  it("sends nothing for a fresh honoured token, renews an ageing one keeping the session start", () => {
    const client = { honoured: a, issuedAt: T0 + 30 * MIN, sessionStart: T0 };
    expect(tokenToIssue(tokens, p, client, a, T0 + 32 * MIN)).toBeUndefined();
    const renewed = tokenToIssue(tokens, p, client, a, T0 + 33 * MIN)!;
    expect(renewed).toMatchObject({ issuedAt: T0 + 33 * MIN, sessionStart: T0 });
    expect(codec.decode(renewed.value)).toMatchObject({
      ok: true,
      issuedAtMs: T0 + 33 * MIN,
      sessionStartMs: T0,
    });
  });

  it("keeps the session start when a client moves to another member (a failover continues the session)", () => {
    const moved = tokenToIssue(
      tokens,
      p,
      { honoured: undefined, issuedAt: T0 + 30 * MIN, sessionStart: T0 },
      b,
      T0 + 31 * MIN,
    )!;
    expect(codec.decode(moved.value)).toMatchObject({
      ok: true,
      token: codec.memberToken(b.endpoint),
      sessionStartMs: T0,
    });
  });
});

describe("the inserted cookie's Max-Age", () => {
  it("is persistenceTimeout, cut to what is left before the absolute deadline", () => {
    const p = persistence({ type: "HTTP_COOKIE", cookieName: "S", absoluteTimeoutMs: 60 * MIN });
    expect(maxAgeSeconds(p, { value: "", issuedAt: T0, sessionStart: T0 })).toBe(600);
    expect(maxAgeSeconds(p, { value: "", issuedAt: T0 + 55 * MIN, sessionStart: T0 })).toBe(300);
    expect(
      maxAgeSeconds(persistence({ type: "HTTP_COOKIE" }), {
        value: "",
        issuedAt: T0 + 55 * MIN,
        sessionStart: T0,
      }),
    ).toBe(600);
  });

  it("is left out for a session cookie", () => {
    const p = persistence({
      type: "HTTP_COOKIE",
      cookieName: "S",
      absoluteTimeoutMs: 60 * MIN,
      cookie: { path: "/", domain: "", sameSite: "Lax", secure: "auto", httpOnly: true, maxAge: "session" },
    });
    const value = codec.encode(codec.memberToken(a.endpoint), T0);
    expect(new InsertedCookies(p).setCookieHeader({ value, issuedAt: T0, sessionStart: T0 }, false)).toBe(
      `S=${value}; Path=/; HttpOnly; SameSite=Lax`,
    );
    const capped = new InsertedCookies({ ...p, cookie: { ...p.cookie, maxAge: undefined } });
    expect(capped.setCookieHeader({ value, issuedAt: T0 + 55 * MIN, sessionStart: T0 }, true)).toBe(
      `S=${value}; Path=/; Max-Age=300; HttpOnly; SameSite=Lax; Secure`,
    );
  });
});

describe("the header's token in a request", () => {
  it("is found case-insensitively; absent or empty is no token; two are refused", () => {
    expect(requestHeaderToken(["Host", "x", "x-SESSION", " 2.abc "], "x-session")).toBe("2.abc");
    expect(requestHeaderToken(["Host", "x"], "x-session")).toBeUndefined();
    expect(requestHeaderToken(["X-Session", ""], "x-session")).toBeUndefined();
    const two = requestHeaderToken(["X-Session", "v", "x-session", "v"], "x-session");
    expect(two).toBeDefined();
    expect(codec.decode(two!).ok).toBe(false);
    expect(requestHeaderToken(["X-Sessions", "v"], "x-session")).toBeUndefined();
  });

  it("tells when the member's response sets the header itself", () => {
    expect(memberSetsHeader(["Content-Type", "text/plain", "X-SESSION", "app"], "x-session")).toBe(true);
    expect(memberSetsHeader(["Content-Type", "text/plain"], "x-session")).toBe(false);
  });
});
