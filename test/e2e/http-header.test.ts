/**
 * Header persistence, absolute timeouts and session cookies against the real process, with a real
 * HTTP client. Tokens are decoded here with the configured key, to check what the process put in
 * them (session start kept across re-issues, Max-Age within the absolute deadline).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CookieCodec } from "../../src/data/affinity/cookie-codec.js";
import {
  cookiePair,
  type HttpAnswer,
  type HttpBackend,
  httpGet,
  startHttpBackend,
} from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import {
  membersYaml,
  runStickylb,
  type StickylbProcess,
  tempDir,
  writeConfig,
} from "../support/stickylb-process.js";
import { sleep } from "../support/time.js";

const SECRET = "header-test-secret-0123456789abcdef";
const codec = new CookieCodec(Buffer.from(SECRET, "utf8"));

/** One listener and pool per case, all over the same backends. */
const POOLS = {
  header: "{type: HTTP_HEADER, headerName: X-Session, persistenceTimeout: 1m}",
  headerAbsolute: "{type: HTTP_HEADER, headerName: X-Session, persistenceTimeout: 3s, absoluteTimeout: 5s}",
  cookieAbsolute: "{type: HTTP_COOKIE, persistenceTimeout: 3s, absoluteTimeout: 5s}",
  sessionCookie: "{type: HTTP_COOKIE, persistenceTimeout: 3s, cookie: {maxAge: session}}",
} as const;
type PoolName = keyof typeof POOLS;

function config(ports: Record<PoolName, number>, backends: readonly HttpBackend[]): string {
  const names = Object.keys(POOLS) as PoolName[];
  return `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: http-header}
spec:
  cookieSecret: {value: "${SECRET}"}
  listeners:
${names.map((n) => `    - {name: ${n.toLowerCase()}, protocol: HTTP, address: 127.0.0.1, port: ${ports[n]}, defaultPool: ${n.toLowerCase()}}`).join("\n")}
  pools:
${names
  .map(
    (n) => `    - name: ${n.toLowerCase()}
      sessionPersistence: ${POOLS[n]}
      members:
${membersYaml(backends)}`,
  )
  .join("\n")}
`;
}

function series(text: string, pool: string, result: string): number {
  const prefix = `stickylb_affinity_decisions_total{pool="${pool}",result="${result}"} `;
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.slice(prefix.length));
}

function decoded(value: string) {
  const result = codec.decode(value);
  if (!result.ok) throw new Error(`the process issued a token this key does not accept: ${value}`);
  return result;
}

function headerToken(answer: HttpAnswer): string | undefined {
  const value = answer.headers["x-session"];
  return typeof value === "string" ? value : undefined;
}

interface Step {
  /** When the answer came (ms since the epoch). */
  readonly wall: number;
  readonly answer: HttpAnswer;
  /** The token the request carried. */
  readonly sent: string;
}

/**
 * An active client: a request every 300 ms, always sending the newest token it was given (as a
 * header, or as the cookie), until two requests after its session was renewed with a new start
 * (or `capMs`, so a broken build ends the test).
 */
async function activeClient(port: number, carrier: "header" | "cookie", capMs: number): Promise<Step[]> {
  const read = (a: HttpAnswer) =>
    carrier === "header" ? headerToken(a) : cookiePair(a.setCookies, "STICKYLB")?.slice("STICKYLB=".length);
  const first = await httpGet(port);
  let token = read(first)!;
  const firstStart = decoded(token).sessionStartMs;
  const start = Date.now();
  const steps: Step[] = [];
  let after = -1;
  while (Date.now() - start < capMs && after < 2) {
    await sleep(300);
    const sent = token;
    const answer = await httpGet(
      port,
      "/",
      carrier === "header" ? { "X-Session": sent } : { Cookie: `STICKYLB=${sent}` },
    );
    steps.push({ wall: Date.now(), answer, sent });
    token = read(answer) ?? token;
    if (after >= 0 || decoded(token).sessionStartMs !== firstStart) after++;
  }
  return steps;
}

describe("HTTP_HEADER, absoluteTimeout and session cookies end to end", () => {
  const backends: HttpBackend[] = [];
  let lb: StickylbProcess | undefined;
  const ports = {} as Record<PoolName, number>;
  let adminPort = 0;

  beforeAll(async () => {
    for (let i = 1; i <= 3; i++) backends.push(await startHttpBackend(`b${i}`, `127.0.1.${i}`));
    for (const name of Object.keys(POOLS) as PoolName[]) ports[name] = await freeTcpPort();
    lb = await runStickylb([writeConfig(tempDir(), "lb.yaml", config(ports, backends))]);
    adminPort = await lb.adminPort();
  });
  afterAll(async () => {
    await lb?.stop();
    await Promise.all(backends.map((b) => b.close()));
  });

  const metrics = async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();

  it("sends an opaque token in the header and keeps a client that sends it back on its member", async () => {
    const first = await httpGet(ports.header);
    expect(first.status).toBe(200);
    const token = headerToken(first)!;
    expect(token).toMatch(/^2\.[A-Za-z0-9_.-]+$/);
    for (const b of backends) expect(token).not.toContain(b.address);
    expect(first.setCookies).toEqual([]);
    const home = first.body;
    for (let i = 0; i < 10; i++) {
      const again = await httpGet(ports.header, "/", { "x-session": token });
      expect(again.body).toBe(home);
      // A fresh token is not re-sent: the header appears on placements and renewals only.
      expect(headerToken(again)).toBeUndefined();
    }
    // The member sees the token (the request header is forwarded as it came).
    const member = backends.find((b) => `${b.name}\n` === home)!;
    expect(member.lastHeaders()?.["x-session"]).toBe(token);
    // Clients without the header are placed by the algorithm, each given its own token.
    const names = new Set<string>();
    for (let i = 0; i < 3; i++) names.add((await httpGet(ports.header)).body);
    expect(names.size).toBe(3);
  });

  it("places a forged token afresh, counts it invalid and gives a new token", async () => {
    const before = series(await metrics(), "header", "invalid");
    const token = headerToken(await httpGet(ports.header))!;
    const forged = `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;
    const answer = await httpGet(ports.header, "/", { "X-Session": forged });
    expect(answer.status).toBe(200);
    const fresh = headerToken(answer)!;
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(forged);
    expect(decoded(fresh).ok).toBe(true);
    // Two tokens in one request are no session either.
    const two = await httpGet(ports.header, "/", { "X-Session": [token, token] });
    expect(headerToken(two)).toBeDefined();
    expect(series(await metrics(), "header", "invalid")).toBe(before + 2);
  });

  it("leaves the member's own header of that name alone (the application wins)", async () => {
    const answer = await httpGet(ports.header, "/own-header?name=X-Session");
    expect(answer.headers["x-session"]).toBe("app");
  });

  it("ends an active session at absoluteTimeout (header and cookie), keeping its start across re-issues", async () => {
    const expiredBefore = {
      header: series(await metrics(), "headerabsolute", "expired"),
      cookie: series(await metrics(), "cookieabsolute", "expired"),
    };
    const sessionCookie = await httpGet(ports.sessionCookie);
    const [headerSteps, cookieSteps] = await Promise.all([
      activeClient(ports.headerAbsolute, "header", 15_000),
      activeClient(ports.cookieAbsolute, "cookie", 15_000),
    ]);
    for (const [pool, steps] of [
      ["headerabsolute", headerSteps],
      ["cookieabsolute", cookieSteps],
    ] as const) {
      // Every token the client sent belonged to at most two sessions: the first, and the one
      // that began when the first was refused at its absolute deadline.
      const starts = [...new Set(steps.map((s) => decoded(s.sent).sessionStartMs))];
      expect(starts.length, pool).toBe(2);
      const [firstStart, secondStart] = starts as [number, number];
      const firstSession = steps.filter((s) => decoded(s.sent).sessionStartMs === firstStart);
      // Re-issued (the idle timeout is 3 s, the session lasted more), same start: renewals.
      expect(new Set(firstSession.map((s) => s.sent)).size, pool).toBeGreaterThan(1);
      // The last request of the first session was refused and placed afresh in a new session...
      const refusal = firstSession.at(-1)!;
      expect(secondStart, pool).toBeGreaterThan(firstStart);
      // ...by the absolute timeout, not idleness: the token it sent was fresh, the session 5 s old.
      const sent = decoded(refusal.sent);
      expect(refusal.wall - sent.issuedAtMs, pool).toBeLessThan(3_000);
      expect(refusal.wall - firstStart, pool).toBeGreaterThanOrEqual(5_000);
      // Until then, the client stayed on its member.
      expect(new Set(firstSession.slice(0, -1).map((s) => s.answer.body)).size, pool).toBe(1);
      const now = await metrics();
      const before = pool === "headerabsolute" ? expiredBefore.header : expiredBefore.cookie;
      expect(series(now, pool, "expired"), pool).toBe(before + 1);
    }
    // A cookie's Max-Age never reaches past the absolute deadline, and got shorter as it neared.
    const maxAges: number[] = [];
    for (const s of cookieSteps) {
      for (const header of s.answer.setCookies) {
        const value = /^STICKYLB=([^;]+)/.exec(header)![1]!;
        const maxAge = Number(/Max-Age=(\d+)/.exec(header)![1]);
        const token = decoded(value);
        expect(token.issuedAtMs + maxAge * 1000).toBeLessThanOrEqual(token.sessionStartMs + 5_000);
        expect(maxAge).toBeLessThanOrEqual(3);
        maxAges.push(maxAge);
      }
    }
    expect(maxAges.some((m) => m < 3)).toBe(true);

    // maxAge: session: no Max-Age, no Expires; the server still refuses the cookie after its
    // persistenceTimeout (3 s; more than 4 s have passed).
    expect(sessionCookie.setCookies).toHaveLength(1);
    expect(sessionCookie.setCookies[0]).toMatch(/^STICKYLB=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/);
    const expiredSession = series(await metrics(), "sessioncookie", "expired");
    const stale = await httpGet(ports.sessionCookie, "/", {
      Cookie: cookiePair(sessionCookie.setCookies, "STICKYLB")!,
    });
    expect(stale.setCookies).toHaveLength(1);
    expect(series(await metrics(), "sessioncookie", "expired")).toBe(expiredSession + 1);
  }, 40_000);
});
