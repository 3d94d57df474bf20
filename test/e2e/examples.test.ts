/**
 * Every file in examples/ is a configuration that `stickylb validate` accepts, and the main ones
 * run end to end: the example as written, with its listener ports replaced by free ones and its
 * members by real loopback backends (tests never use fixed ports).
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as https from "node:https";
import { join, resolve } from "node:path";
import type { TLSSocket } from "node:tls";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { isMap, isSeq, parseAllDocuments } from "yaml";
import { startTcpBackend, type TcpBackend, whoAnswers } from "../support/backends.js";
import { cookiePair, type HttpBackend, httpGet, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import {
  runStickylb,
  STICKYLB_MAIN,
  type StickylbProcess,
  tempDir,
  writeConfig,
} from "../support/stickylb-process.js";

const run = promisify(execFile);
const EXAMPLES = resolve(import.meta.dirname, "../../examples");
const yamlExamples = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

/**
 * The example `name` with each listener on a free port, each pool's members replaced by
 * `members(pool)` (names kept in order), and relative certificate paths made absolute.
 */
async function adapted(
  name: string,
  members: (pool: string) => readonly { readonly address: string; readonly port: number }[],
): Promise<{ text: string; ports: Map<string, number> }> {
  const ports = new Map<string, number>();
  const docs = parseAllDocuments(readFileSync(join(EXAMPLES, name), "utf8"));
  for (const doc of docs) {
    const listeners = doc.getIn(["spec", "listeners"]);
    if (isSeq(listeners)) {
      for (const l of listeners.items) {
        if (!isMap(l)) continue;
        const port = await freeTcpPort();
        ports.set(String(l.get("name")), port);
        l.set("port", port);
        const tls = l.get("tls");
        if (isSeq(tls)) {
          for (const t of tls.items) {
            if (!isMap(t)) continue;
            for (const key of ["certFile", "keyFile"]) t.set(key, resolve(EXAMPLES, String(t.get(key))));
          }
        }
      }
    }
    const pools = doc.getIn(["spec", "pools"]);
    if (isSeq(pools)) {
      for (const p of pools.items) {
        if (!isMap(p)) continue;
        const old = p.get("members");
        const names = isSeq(old) ? old.items.map((m) => (isMap(m) ? m.get("name") : undefined)) : [];
        p.set(
          "members",
          members(String(p.get("name"))).map((b, i) => ({
            ...(names[i] === undefined ? {} : { name: names[i] }),
            address: b.address,
            port: b.port,
          })),
        );
      }
    }
  }
  return { text: docs.map((d) => d.toString()).join("---\n"), ports };
}

describe("examples", () => {
  it("has one example of every kind", () => {
    expect(yamlExamples).toEqual(
      expect.arrayContaining([
        "app-cookie.yaml",
        "gateway-api.yaml",
        "http-cookie.yaml",
        "http-header.yaml",
        "https-sni.yaml",
        "kubernetes.yaml",
        "tcp.yaml",
        "udp.yaml",
      ]),
    );
  });

  it.each(yamlExamples)("stickylb validate accepts %s", async (file) => {
    const { stdout } = await run(process.execPath, [STICKYLB_MAIN, "validate", "-f", join(EXAMPLES, file)]);
    expect(stdout).toMatch(/^configuration is valid: \d+ listener\(s\), \d+ pool\(s\)\n$/);
  });
});

describe("examples end to end", () => {
  const backends: (HttpBackend | TcpBackend)[] = [];
  const processes: StickylbProcess[] = [];
  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop()));
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });

  it("http-cookie.yaml: the inserted cookie keeps a client on one named member", async () => {
    for (let i = 1; i <= 3; i++) backends.push(await startHttpBackend(`web${i}`, `127.0.1.${i}`));
    const { text, ports } = await adapted("http-cookie.yaml", () => backends);
    processes.push(await runStickylb([writeConfig(tempDir(), "http-cookie.yaml", text)]));
    const port = ports.get("web")!;
    const first = await httpGet(port);
    const cookie = cookiePair(first.setCookies, "STICKYLB")!;
    expect(cookie).toBeDefined();
    for (let i = 0; i < 8; i++) expect((await httpGet(port, "/", { Cookie: cookie })).body).toBe(first.body);
    const line = await processes[0]!.waitForLog((e) => e.msg === "access" && e.memberName !== null);
    expect(["web-1", "web-2", "web-3"]).toContain(line.memberName);
  });

  it("http-header.yaml: the X-Session token keeps an API client on its member; the session cookie has no Max-Age", async () => {
    for (let i = 1; i <= 2; i++) backends.push(await startHttpBackend(`api${i}`, `127.0.1.${i}`));
    const { text, ports } = await adapted("http-header.yaml", () => backends);
    processes.push(await runStickylb([writeConfig(tempDir(), "http-header.yaml", text)]));
    const api = ports.get("api")!;
    const first = await httpGet(api);
    const token = first.headers["x-session"];
    expect(typeof token).toBe("string");
    for (let i = 0; i < 6; i++)
      expect((await httpGet(api, "/", { "X-Session": token })).body).toBe(first.body);
    const web = await httpGet(ports.get("web")!);
    expect(web.setCookies[0]).toMatch(/^STICKYLB=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/);
  });

  it("tcp.yaml: each client IP stays on one backend on both listeners", async () => {
    const tcp: TcpBackend[] = [];
    for (let i = 1; i <= 3; i++) tcp.push(await startTcpBackend(`backend-${i}`, `127.0.1.${i}`));
    backends.push(...tcp);
    const { text, ports } = await adapted("tcp.yaml", () => tcp);
    processes.push(await runStickylb([writeConfig(tempDir(), "tcp.yaml", text)]));
    for (const listener of ["tcp-source-ip", "tcp-persistent"]) {
      const port = ports.get(listener)!;
      const seen = new Set<string>();
      for (const client of ["127.0.0.2", "127.0.0.3", "127.0.0.4"]) {
        const first = await whoAnswers(port, client);
        for (let i = 0; i < 3; i++) expect(await whoAnswers(port, client)).toBe(first);
        seen.add(first);
      }
      // Round robin places three new clients on three backends; the hash may put two together.
      if (listener === "tcp-persistent") expect(seen.size).toBe(3);
    }
  });

  it("kubernetes.yaml: the Service and the Ingress serve, members named after their Pods", async () => {
    // The slices give one port per Service for all endpoints, so the backends share a port number.
    const tcpPort = await freeTcpPort("127.0.1.11");
    const httpPort = await freeTcpPort("127.0.1.11");
    const tcp: TcpBackend[] = [];
    for (const host of [11, 12, 13])
      tcp.push(await startTcpBackend(`pod-${host}`, `127.0.1.${host}`, tcpPort));
    const web = [
      await startHttpBackend("web-11", "127.0.1.11", "name", httpPort),
      await startHttpBackend("web-12", "127.0.1.12", "name", httpPort),
    ];
    backends.push(...tcp, ...web);
    const servicePort = await freeTcpPort();
    const ingressPort = await freeTcpPort();
    const text = readFileSync(join(EXAMPLES, "kubernetes.yaml"), "utf8")
      .replace("port: 7100, targetPort: 9000", `port: ${servicePort}, targetPort: 9000`)
      .replace('kubernetes.io/elb.port: "8088"', `kubernetes.io/elb.port: "${ingressPort}"`)
      .replace("{name: tcp, protocol: TCP, port: 9000}", `{name: tcp, protocol: TCP, port: ${tcpPort}}`)
      .replace("{name: http, protocol: TCP, port: 8080}", `{name: http, protocol: TCP, port: ${httpPort}}`);
    const file = writeConfig(tempDir(), "kubernetes.yaml", text);
    const proc = await runStickylb([file], ["--listen-address", "127.0.0.1"]);
    processes.push(proc);
    // SOURCE_IP persistence: a client stays on one Pod; the terminating Pod takes no new client.
    for (const client of ["127.0.0.2", "127.0.0.3", "127.0.0.4"]) {
      const first = await whoAnswers(servicePort, client);
      expect(first).not.toBe("pod-13");
      expect(await whoAnswers(servicePort, client)).toBe(first);
    }
    // The Ingress: host rule, HTTP_COOKIE.
    const answer = await httpGet(ingressPort, "/", { Host: "shop.example.com" });
    expect(answer.body).toMatch(/^web-1[12]/);
    expect(answer.setCookies[0]).toMatch(/^STICKYLB=.*; Max-Age=3600; /);
    const status = (await (
      await fetch(`http://127.0.0.1:${await proc.adminPort()}/api/v1/status`)
    ).json()) as {
      pools: { name: string; members: { name: string | null; draining: boolean }[] }[];
    };
    const pool = status.pools.find((p) => p.name === `default.shop-tcp.${servicePort}`)!;
    expect(pool.members.map((m) => [m.name, m.draining])).toEqual([
      ["shop-7d4b9c-x2k8f", false],
      ["shop-7d4b9c-q9z7m", false],
      ["shop-6c5a8b-old01", true],
    ]);
  });

  it("gateway-api.yaml: the HTTPRoute's cookie keeps a client on one weighted member, within the timeouts", async () => {
    // Both slices give one port for all their endpoints, so the backends share a port number.
    const backendPort = await freeTcpPort("127.0.1.21");
    const cart = [
      await startHttpBackend("cart-v1-21", "127.0.1.21", "name", backendPort),
      await startHttpBackend("cart-v1-22", "127.0.1.22", "name", backendPort),
      await startHttpBackend("cart-v2-23", "127.0.1.23", "name", backendPort),
    ];
    backends.push(...cart);
    const gatewayPort = await freeTcpPort();
    const source = readFileSync(join(EXAMPLES, "gateway-api.yaml"), "utf8");
    const text = source
      .replace("      port: 8000\n", `      port: ${gatewayPort}\n`)
      .replaceAll(
        "{name: http, protocol: TCP, port: 8080}",
        `{name: http, protocol: TCP, port: ${backendPort}}`,
      );
    expect(text).not.toBe(source);
    expect(text).not.toMatch(/port: (8000|8080)\b/);
    const proc = await runStickylb(
      [writeConfig(tempDir(), "gateway-api.yaml", text)],
      ["--listen-address", "127.0.0.1"],
    );
    processes.push(proc);
    const host = { Host: "shop.example.com" };
    const first = await httpGet(gatewayPort, "/cart", host);
    expect(first.status).toBe(200);
    expect(first.body).toMatch(/^cart-v[12]-2[123]\n$/);
    // The cookie is named after sessionName; its Max-Age is the idle timeout (30m), never past
    // the absolute timeout (8h).
    const setCookie = first.setCookies.find((c) => c.startsWith("CART="))!;
    expect(setCookie).toBeDefined();
    const maxAge = Number(/; Max-Age=(\d+)/.exec(setCookie)?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(8 * 3600);
    expect(maxAge).toBe(30 * 60);
    const cookie = cookiePair(first.setCookies, "CART")!;
    for (const path of ["/cart", "/cart/items", "/cart?x=1"])
      for (let i = 0; i < 3; i++)
        expect((await httpGet(gatewayPort, path, { ...host, Cookie: cookie })).body).toBe(first.body);
    // New clients are spread over the members; a path or host the route does not name is not routed.
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add((await httpGet(gatewayPort, "/cart", host)).body.trim());
    expect(seen.size).toBeGreaterThan(1);
    expect((await httpGet(gatewayPort, "/cartoon", host)).status).toBe(404);
    expect((await httpGet(gatewayPort, "/cart", { Host: "other.example.com" })).status).toBe(404);
    // The backend weights 80/20 over two and one endpoints: members 100, 100 and 50, named after their Pods.
    const status = (await (
      await fetch(`http://127.0.0.1:${await proc.adminPort()}/api/v1/status`)
    ).json()) as {
      pools: { name: string; members: { name: string | null; weight: number }[] }[];
    };
    const pool = status.pools.find((p) => p.name === "default.cart.shop.0")!;
    expect(pool.members.map((m) => [m.name, m.weight])).toEqual([
      ["cart-v1-5f8d7c-h4m2x", 100],
      ["cart-v1-5f8d7c-p7w9r", 100],
      ["cart-v2-6b9e1a-z3k8n", 50],
    ]);
  });

  it("https-sni.yaml: each host gets its own certificate and its own pool", async () => {
    const www = [await startHttpBackend("www-a", "127.0.1.1"), await startHttpBackend("www-b", "127.0.1.2")];
    const api = [await startHttpBackend("api-a", "127.0.1.3"), await startHttpBackend("api-b", "127.0.1.4")];
    backends.push(...www, ...api);
    const { text, ports } = await adapted("https-sni.yaml", (pool) => (pool === "api" ? api : www));
    processes.push(await runStickylb([writeConfig(tempDir(), "https-sni.yaml", text)]));
    const port = ports.get("https")!;
    for (const host of ["www.example.com", "api.example.com"]) {
      const ca = readFileSync(join(EXAMPLES, "certs", `${host}.crt`), "utf8");
      const answer = await new Promise<{ cn: string; body: string; setCookies: string[] }>((done, fail) => {
        const req = https.request(
          { host: "127.0.0.1", port, servername: host, ca, agent: false, headers: { Host: host } },
          (res) => {
            const cn = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN ?? "");
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => {
              body += c;
            });
            res.on("end", () => done({ cn, body, setCookies: res.headers["set-cookie"] ?? [] }));
          },
        );
        req.on("error", fail);
        req.end();
      });
      // `ca` is the example certificate itself: the handshake verifies it for this host name.
      expect(answer.cn).toBe(host);
      expect(answer.body.trim()).toMatch(host.startsWith("api") ? /^api-/ : /^www-/);
      if (host.startsWith("www")) expect(answer.setCookies[0]).toMatch(/^STICKYLB=.*; Secure$/);
    }
  });

  it("validate --print of an example prints a document that validate reprints alike and run serves", async () => {
    const www = [await startHttpBackend("www-a", "127.0.1.1")];
    const api = [await startHttpBackend("api-a", "127.0.1.3")];
    backends.push(...www, ...api);
    const { text, ports } = await adapted("https-sni.yaml", (pool) => (pool === "api" ? api : www));
    const dir = tempDir();
    const source = writeConfig(dir, "https-sni.yaml", text);
    const first = await run(process.execPath, [STICKYLB_MAIN, "validate", "--print", "-f", source]);
    expect(first.stderr).toMatch(/configuration is valid: 1 listener\(s\), 2 pool\(s\)/);
    expect(first.stdout).toMatch(/^# The effective configuration/);
    const printed = writeConfig(dir, "printed.yaml", first.stdout);
    const second = await run(process.execPath, [STICKYLB_MAIN, "validate", "--print", "-f", printed]);
    expect(second.stdout).toBe(first.stdout);
    processes.push(await runStickylb([printed]));
    const ca = readFileSync(join(EXAMPLES, "certs", "api.example.com.crt"), "utf8");
    const body = await new Promise<string>((done, fail) => {
      const req = https.request(
        {
          host: "127.0.0.1",
          port: ports.get("https")!,
          servername: "api.example.com",
          ca,
          agent: false,
          headers: { Host: "api.example.com" },
        },
        (res) => {
          let b = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            b += c;
          });
          res.on("end", () => done(b));
        },
      );
      req.on("error", fail);
      req.end();
    });
    expect(body.trim()).toBe("api-a");
  });
});
