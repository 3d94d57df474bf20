import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type HttpBackend, httpGet, startHttpBackend } from "../../support/http-backends.js";
import { freeTcpPort } from "../../support/ports.js";
import { rawExchange } from "../../support/raw-socket.js";
import { listenerModel, poolModel, startProxy, type TestProxy } from "./harness.js";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function backends(...names: string[]): Promise<HttpBackend[]> {
  const list = await Promise.all(names.map((n) => startHttpBackend(n)));
  for (const b of list) cleanup.push(() => b.close());
  return list;
}

async function proxyFor(...args: Parameters<typeof startProxy>): Promise<TestProxy> {
  const p = await startProxy(...args);
  cleanup.push(() => p.close());
  return p;
}

describe("HTTP forwarding", () => {
  it("rotates requests by round robin and rewrites headers", async () => {
    const [a, b] = await backends("a", "b");
    const proxy = await proxyFor({ listeners: [listenerModel()], pools: [poolModel("web", [a!, b!])] });
    const names: string[] = [];
    for (let i = 0; i < 4; i++)
      names.push(
        (await httpGet(proxy.port, "/x", { "X-Forwarded-For": "1.2.3.4", Connection: "close" })).body.trim(),
      );
    expect(names).toEqual(["a", "b", "a", "b"]);
    const seen = b!.lastHeaders()!;
    expect(seen.host).toBe(`127.0.0.1:${proxy.port}`);
    expect(seen["x-forwarded-for"]).toBe("1.2.3.4, 127.0.0.1");
    expect(seen["x-forwarded-proto"]).toBe("http");
    expect(seen["x-forwarded-port"]).toBe(String(proxy.port));
    expect(proxy.counters.responses["2xx"]).toBe(4);
    const rows = [...proxy.counters.requests()].map((r) => `${r.member} ${r.code} ${r.count}`).sort();
    expect(rows).toEqual([`127.0.0.1:${a!.port} 200 2`, `127.0.0.1:${b!.port} 200 2`].sort());
  });

  it("streams request bodies with Content-Length and chunked framing", async () => {
    const [a] = await backends("a");
    const proxy = await proxyFor({ listeners: [listenerModel()], pools: [poolModel("web", [a!])] });
    await httpGet(proxy.port, "/", {}, { method: "POST", body: "hello" });
    expect(a!.lastBody()).toBe("hello");
    const chunked = await rawExchange(
      proxy.port,
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    );
    expect(chunked).toMatch(/^HTTP\/1\.1 200/);
    expect(a!.lastBody()).toBe("abcde");
    expect(a!.lastHeaders()!["transfer-encoding"]).toBe("chunked");
  });

  it("routes by host and path, first match wins, else the default pool, else 404", async () => {
    const [api, web] = await backends("api", "web");
    const rules = [{ host: "shop.example", path: "/api", pathType: "Prefix" as const, pool: "api" }];
    const proxy = await proxyFor({
      listeners: [listenerModel({ rules })],
      pools: [poolModel("api", [api!]), poolModel("web", [web!])],
    });
    expect((await httpGet(proxy.port, "/api/x", { Host: "SHOP.example:81" })).body).toBe("api\n");
    expect((await httpGet(proxy.port, "/apix", { Host: "shop.example" })).body).toBe("web\n");
    const noDefault = await proxyFor({
      listeners: [listenerModel({ rules, defaultPool: undefined })],
      pools: [poolModel("api", [api!])],
    });
    expect((await httpGet(noDefault.port, "/other", { Host: "shop.example" })).status).toBe(404);
    expect(noDefault.counters.noRoute).toBe(1);
  });

  it("answers 503 when no member is eligible", async () => {
    const proxy = await proxyFor({ listeners: [listenerModel()], pools: [poolModel("web", [])] });
    expect((await httpGet(proxy.port)).status).toBe(503);
    expect(proxy.counters.noMember).toBe(1);
  });

  it("retries a refused connect once on another member, else answers 502", async () => {
    const [a] = await backends("a");
    const dead = { address: "127.0.0.1", port: await freeTcpPort() };
    const proxy = await proxyFor({ listeners: [listenerModel()], pools: [poolModel("web", [dead, a!])] });
    // Round robin starts at the dead member: the POST (never sent) moves to `a`.
    const moved = await httpGet(proxy.port, "/", {}, { method: "POST", body: "x" });
    expect(moved.body).toBe("a\n");
    expect(a!.lastBody()).toBe("x");
    expect(proxy.counters.retries).toBe(1);
    expect(proxy.failures).toEqual([`127.0.0.1:${dead.port} ECONNREFUSED`]);

    const alone = await proxyFor({ listeners: [listenerModel()], pools: [poolModel("web", [dead])] });
    expect((await httpGet(alone.port)).status).toBe(502);
    expect(alone.counters.badGateway).toBe(1);
    expect(alone.counters.connectFailures).toBe(1);
  });

  it("counts each attempt on its member once and releases it once, after a retry and after a response", async () => {
    const [a] = await backends("a");
    const dead = { address: "127.0.0.1", port: await freeTcpPort() };
    const proxy = await proxyFor({ listeners: [listenerModel()], pools: [poolModel("web", [dead, a!])] });
    expect((await httpGet(proxy.port, "/", {}, { method: "POST", body: "x" })).body).toBe("a\n");
    const first = proxy.member("web", dead.port);
    const second = proxy.member("web", a!.port);
    expect([first.total, first.active, first.open.size]).toEqual([1, 0, 0]);
    expect([second.total, second.active, second.open.size]).toEqual([1, 0, 0]);
    await httpGet(proxy.port);
    const counted = first.total + second.total;
    expect(counted).toBe(3);
    expect([first.active, second.active, first.open.size, second.open.size]).toEqual([0, 0, 0, 0]);
  });

  it("retries an idempotent request reset before any response byte; not a POST with a body", async () => {
    const [bad, good] = await backends("bad", "good");
    bad!.behave("reset");
    const proxy = await proxyFor({ listeners: [listenerModel()], pools: [poolModel("web", [bad!, good!])] });
    expect((await httpGet(proxy.port)).body).toBe("good\n");
    expect(proxy.counters.resets).toBe(1);
    // Two POSTs: round robin sends one of them to `bad`, which is not retried.
    const before = { bad: bad!.requests(), good: good!.requests() };
    const posts = [
      await httpGet(proxy.port, "/", {}, { method: "POST", body: "once" }),
      await httpGet(proxy.port, "/", {}, { method: "POST", body: "once" }),
    ];
    const failed = posts.filter((p) => p.status === 502).length;
    expect(failed).toBe(1);
    expect(bad!.requests() - before.bad).toBe(1);
    expect(good!.requests() - before.good).toBe(1);
    expect(proxy.counters.badGateway).toBe(1);
  });

  it("resends once on a fresh connection when a pooled connection was closed by the member", async () => {
    // A member that answers the first request of each connection with keep-alive and drops the
    // connection on the second: the stale-pool race, made deterministic.
    let received = 0;
    const member = net.createServer((socket) => {
      let onConnection = 0;
      socket.on("data", () => {
        received++;
        onConnection++;
        if (onConnection === 1) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
        else socket.destroy();
      });
    });
    await new Promise<void>((resolve) => member.listen(0, "127.0.0.1", resolve));
    cleanup.push(() => new Promise<void>((resolve) => member.close(() => resolve())));
    const port = (member.address() as net.AddressInfo).port;
    const proxy = await proxyFor({
      listeners: [listenerModel()],
      pools: [poolModel("web", [{ address: "127.0.0.1", port }])],
    });
    expect((await httpGet(proxy.port)).body).toBe("ok\n");
    expect((await httpGet(proxy.port)).body).toBe("ok\n");
    expect(received).toBe(3);
    expect(proxy.counters.resets).toBe(0);
    expect(proxy.counters.badGateway).toBe(0);
    expect(proxy.failures).toEqual([]);
  });

  it("answers 504 when the member stays silent past the member timeout, and counts in-flight requests", async () => {
    const [slow] = await backends("slow");
    slow!.behave("hang");
    const proxy = await proxyFor({
      listeners: [
        listenerModel({ timeouts: { idleMs: 60_000, clientMs: 60_000, memberMs: 300, connectMs: 2_000 } }),
      ],
      pools: [poolModel("web", [slow!], { algorithm: "LEAST_CONNECTIONS" })],
    });
    const pending = httpGet(proxy.port);
    const member = proxy.member("web", slow!.port);
    await expect.poll(() => slow!.requests()).toBe(1);
    expect(member.active).toBe(1);
    expect(member.open.size).toBe(1);
    expect((await pending).status).toBe(504);
    expect(member.active).toBe(0);
    expect(member.open.size).toBe(0);
    expect(proxy.counters.memberTimeouts).toBe(1);
  });

  describe("refuses malformed and ambiguous requests before any member sees them", () => {
    const cases: [string, string][] = [
      [
        "Content-Length with Transfer-Encoding",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      ],
      [
        "two differing Content-Length",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
      ],
      ["bare LF line endings", "GET / HTTP/1.1\nHost: h\n\n"],
      ["bare LF inside the head", "GET / HTTP/1.1\r\nHost: h\nX-A: b\r\n\r\n"],
      ["obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n  c\r\n\r\n"],
      ["a space before the colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A : b\r\n\r\n"],
    ];
    for (const [name, bytes] of cases) {
      it(`${name} → 400`, async () => {
        const [a] = await backends("a");
        const proxy = await proxyFor({ listeners: [listenerModel()], pools: [poolModel("web", [a!])] });
        const answer = await rawExchange(proxy.port, bytes);
        expect(answer).toMatch(/^HTTP\/1\.1 400 /);
        expect(a!.requests()).toBe(0);
        expect(proxy.counters.malformed).toBe(1);
      });
    }

    it("a head over 64 KiB → 431", async () => {
      const [a] = await backends("a");
      const proxy = await proxyFor({ listeners: [listenerModel()], pools: [poolModel("web", [a!])] });
      const answer = await rawExchange(
        proxy.port,
        `GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${"x".repeat(70_000)}\r\n\r\n`,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 431 /);
      expect(a!.requests()).toBe(0);
      expect(proxy.counters.headerTooLarge).toBe(1);
    });
  });
});
