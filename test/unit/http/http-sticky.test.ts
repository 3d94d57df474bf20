import { afterEach, describe, expect, it } from "vitest";
import { MAX_APP_COOKIE_VALUE_LENGTH } from "../../../src/data/affinity/app-cookie-affinity.js";
import { cookiePair, type HttpBackend, httpGet, startHttpBackend } from "../../support/http-backends.js";
import { listenerModel, persistence, poolModel, startProxy, type TestProxy } from "./harness.js";

const KEY = Buffer.alloc(32, 7);
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function backends(behaviour: "name" | "jsessionid", ...names: string[]): Promise<HttpBackend[]> {
  const list = await Promise.all(names.map((n) => startHttpBackend(n, "127.0.0.1", behaviour)));
  for (const b of list) cleanup.push(() => b.close());
  return list;
}

async function proxyFor(...args: Parameters<typeof startProxy>): Promise<TestProxy> {
  const p = await startProxy(...args);
  cleanup.push(() => p.close());
  return p;
}

const decisions = (proxy: TestProxy, pool = "web") => ({
  ...proxy.snapshot().pools.get(pool)!.counters.decisions,
});

describe("HTTP_COOKIE", () => {
  async function setup(over: Parameters<typeof persistence>[0] = {}) {
    const members = await backends("name", "a", "b", "c");
    const model = {
      listeners: [listenerModel()],
      pools: [
        poolModel("web", members, {
          sessionPersistence: persistence({ persistenceTimeoutMs: 60_000, ...over }),
        }),
      ],
    };
    return { members, model, proxy: await proxyFor(model, KEY) };
  }

  it("inserts the cookie on a miss and honours it afterwards without re-inserting", async () => {
    const { proxy } = await setup();
    const first = await httpGet(proxy.port);
    expect(first.setCookies).toHaveLength(1);
    expect(first.setCookies[0]).toMatch(/^STICKYLB=[^;]+; Path=\/; Max-Age=60; HttpOnly; SameSite=Lax$/);
    const pair = cookiePair(first.setCookies, "STICKYLB")!;
    for (let i = 0; i < 5; i++) {
      const again = await httpGet(proxy.port, "/", { Cookie: pair });
      expect(again.body).toBe(first.body);
      expect(again.setCookies).toEqual([]);
    }
    expect(decisions(proxy)).toMatchObject({ miss: 1, hit: 5 });
  });

  it("counts a malformed or forged cookie as invalid and replaces it", async () => {
    const { proxy } = await setup();
    const answer = await httpGet(proxy.port, "/", { Cookie: "STICKYLB=garbage" });
    expect(answer.setCookies).toHaveLength(1);
    expect(decisions(proxy)).toMatchObject({ invalid: 1, hit: 0 });
  });

  it("refuses a cookie once persistenceTimeout has passed since it was issued", async () => {
    const { proxy } = await setup();
    const pair = cookiePair((await httpGet(proxy.port)).setCookies, "STICKYLB")!;
    proxy.clock.advance(60_001);
    const answer = await httpGet(proxy.port, "/", { Cookie: pair });
    expect(answer.setCookies).toHaveLength(1);
    expect(decisions(proxy)).toMatchObject({ expired: 1 });
  });

  it("re-issues an aging cookie so that an active client keeps its member", async () => {
    const { proxy } = await setup();
    const first = await httpGet(proxy.port);
    let pair = cookiePair(first.setCookies, "STICKYLB")!;
    let reissued = 0;
    // 40 requests 5 s apart: 200 s, more than three times the 60 s timeout.
    for (let i = 0; i < 40; i++) {
      proxy.clock.advance(5_000);
      const answer = await httpGet(proxy.port, "/", { Cookie: pair });
      expect(answer.body).toBe(first.body);
      const next = cookiePair(answer.setCookies, "STICKYLB");
      if (next !== undefined) {
        pair = next;
        reissued++;
      }
    }
    expect(reissued).toBeGreaterThan(0);
    // Re-issued as it ages, not on every response.
    expect(reissued).toBeLessThan(20);
    expect(decisions(proxy)).toMatchObject({ hit: 40, expired: 0 });
  });

  it("redispatches when the cookie's member is removed, with a cookie for the new member", async () => {
    const { proxy, members, model } = await setup();
    const first = await httpGet(proxy.port);
    const pair = cookiePair(first.setCookies, "STICKYLB")!;
    const home = members.find((m) => `${m.name}\n` === first.body)!;
    proxy.apply({
      ...model,
      pools: [{ ...model.pools[0]!, members: model.pools[0]!.members.filter((m) => m.port !== home.port) }],
    });
    const moved = await httpGet(proxy.port, "/", { Cookie: pair });
    expect(moved.body).not.toBe(first.body);
    expect(moved.setCookies).toHaveLength(1);
    expect(decisions(proxy)).toMatchObject({ redispatch: 1 });
  });

  it("redispatches when the cookie's member is unhealthy", async () => {
    const { proxy, members } = await setup();
    const first = await httpGet(proxy.port);
    const pair = cookiePair(first.setCookies, "STICKYLB")!;
    const home = members.find((m) => `${m.name}\n` === first.body)!;
    const member = proxy.member("web", home.port);
    proxy.registry.setHealthy(member.id, false, "test");
    const moved = await httpGet(proxy.port, "/", { Cookie: pair });
    expect(moved.body).not.toBe(first.body);
    expect(decisions(proxy)).toMatchObject({ redispatch: 1 });
  });

  it("counts a client moved off a bound member that refused the connect as redispatch, not hit", async () => {
    const { proxy, members } = await setup();
    const first = await httpGet(proxy.port);
    const pair = cookiePair(first.setCookies, "STICKYLB")!;
    const home = members.find((m) => `${m.name}\n` === first.body)!;
    // Still configured and healthy (no monitor), but refusing connections.
    await home.close();
    const moved = await httpGet(proxy.port, "/", { Cookie: pair });
    expect(moved.status).toBe(200);
    expect(moved.body).not.toBe(first.body);
    // The client gets a cookie for the member that answered.
    expect(moved.setCookies).toHaveLength(1);
    expect(decisions(proxy)).toMatchObject({ miss: 1, hit: 0, redispatch: 1 });
  });

  it("adds Secure and Domain as configured, and lets the member's own cookie of the same name win", async () => {
    const { proxy } = await setup({
      cookie: { path: "/", domain: "example.com", sameSite: "Strict", secure: "always", httpOnly: true },
    });
    const first = await httpGet(proxy.port);
    expect(first.setCookies[0]).toMatch(
      /; Max-Age=60; HttpOnly; SameSite=Strict; Secure; Domain=example\.com$/,
    );
    const own = await httpGet(proxy.port, "/own-cookie?name=STICKYLB");
    expect(own.setCookies).toEqual(["STICKYLB=app; Path=/"]);
  });

  it("appends its cookie after the member's other Set-Cookie headers", async () => {
    const { proxy } = await setup({ cookieName: "LB" });
    const answer = await httpGet(proxy.port, "/set-cookie?v=1");
    expect(answer.setCookies).toHaveLength(2);
    expect(answer.setCookies[0]).toBe("JSESSIONID=1; Path=/; HttpOnly");
    expect(answer.setCookies[1]).toMatch(/^LB=/);
  });
});

describe("APP_COOKIE", () => {
  async function setup() {
    const members = await backends("jsessionid", "a", "b", "c");
    const model = {
      listeners: [listenerModel()],
      pools: [
        poolModel("web", members, {
          sessionPersistence: persistence({
            type: "APP_COOKIE",
            cookieName: "JSESSIONID",
            persistenceTimeoutMs: 60_000,
          }),
        }),
      ],
    };
    return { members, proxy: await proxyFor(model) };
  }

  it("binds the value the member sets and routes it there", async () => {
    const { proxy } = await setup();
    const first = await httpGet(proxy.port);
    const pair = cookiePair(first.setCookies, "JSESSIONID")!;
    for (let i = 0; i < 5; i++)
      expect((await httpGet(proxy.port, "/", { Cookie: pair })).body).toBe(first.body);
    expect(proxy.snapshot().pools.get("web")!.bindings!.size).toBe(1);
    expect(decisions(proxy)).toMatchObject({ miss: 1, hit: 5 });
  });

  it("binds an unknown value, lets it lapse after persistenceTimeout idle, unbinds on a deleting Set-Cookie", async () => {
    const { proxy, members } = await setup();
    const first = await httpGet(proxy.port, "/", { Cookie: "JSESSIONID=mine" });
    const table = proxy.snapshot().pools.get("web")!.bindings!;
    const home = members.find((m) => `${m.name}\n` === first.body)!;
    expect(table.peek("mine")?.member).toBe(proxy.member("web", home.port).id);
    expect((await httpGet(proxy.port, "/", { Cookie: "JSESSIONID=mine" })).body).toBe(first.body);
    proxy.clock.advance(60_001);
    await httpGet(proxy.port, "/", { Cookie: "JSESSIONID=mine" });
    expect(decisions(proxy)).toMatchObject({ expired: 1 });
    await httpGet(proxy.port, "/logout", { Cookie: "JSESSIONID=mine" });
    expect(table.peek("mine")).toBeUndefined();
  });
  it("refuses an over-long value as invalid and binds nothing for it (the table's memory stays bounded)", async () => {
    const { proxy } = await setup();
    const long = "x".repeat(MAX_APP_COOKIE_VALUE_LENGTH + 1);
    const answer = await httpGet(proxy.port, "/", { Cookie: `JSESSIONID=${long}` });
    expect(answer.status).toBe(200);
    const table = proxy.snapshot().pools.get("web")!.bindings!;
    expect(table.peek(long)).toBeUndefined();
    expect(decisions(proxy)).toMatchObject({ invalid: 1 });
  });
});

describe("SOURCE_IP on HTTP pools", () => {
  it("keeps a client IP on its member with SOURCE_IP persistence", async () => {
    const members = await backends("name", "a", "b");
    const proxy = await proxyFor({
      listeners: [listenerModel()],
      pools: [poolModel("web", members, { sessionPersistence: persistence({ type: "SOURCE_IP" }) })],
    });
    const first = (await httpGet(proxy.port)).body;
    for (let i = 0; i < 5; i++) expect((await httpGet(proxy.port)).body).toBe(first);
  });

  it("rebinds a client IP moved off a member that refused the connect, counted as redispatch", async () => {
    const members = await backends("name", "a", "b");
    const proxy = await proxyFor({
      listeners: [listenerModel()],
      pools: [poolModel("web", members, { sessionPersistence: persistence({ type: "SOURCE_IP" }) })],
    });
    const first = (await httpGet(proxy.port)).body;
    await members.find((m) => `${m.name}\n` === first)!.close();
    const moved = (await httpGet(proxy.port)).body;
    expect(moved).not.toBe(first);
    // The new binding holds: the next request goes straight to the new member, a hit.
    expect((await httpGet(proxy.port)).body).toBe(moved);
    expect(decisions(proxy)).toMatchObject({ miss: 1, redispatch: 1, hit: 1 });
  });

  it("keeps a client IP on its member with the SOURCE_IP algorithm", async () => {
    const members = await backends("name", "a", "b", "c");
    const proxy = await proxyFor({
      listeners: [listenerModel()],
      pools: [poolModel("web", members, { algorithm: "SOURCE_IP" })],
    });
    const first = (await httpGet(proxy.port)).body;
    for (let i = 0; i < 5; i++) expect((await httpGet(proxy.port)).body).toBe(first);
  });
});
