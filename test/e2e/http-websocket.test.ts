import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { cookiePair, httpGet } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import {
  membersYaml,
  runStickylb,
  type StickylbProcess,
  tempDir,
  writeConfig,
} from "../support/stickylb-process.js";

interface WsBackend {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** An HTTP server with a WebSocket endpoint that greets with its name and echoes `NAME:message`. */
async function startWsBackend(name: string, address: string): Promise<WsBackend> {
  const server = http.createServer((_req, res) => res.end(`${name}\n`));
  const wss = new WebSocketServer({ server });
  wss.on("connection", (socket) => {
    socket.send(`hello from ${name}`);
    socket.on("message", (data) => socket.send(`${name}:${data.toString()}`));
  });
  await new Promise<void>((resolve) => server.listen({ host: address, port: 0 }, resolve));
  return {
    name,
    address,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Opened {
  readonly socket: WebSocket;
  readonly setCookies: string[];
  readonly greeting: string;
}

function open(port: number, cookie?: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(
      `ws://127.0.0.1:${port}/chat`,
      cookie === undefined ? {} : { headers: { Cookie: cookie } },
    );
    let setCookies: string[] = [];
    socket.once("upgrade", (res) => {
      setCookies = res.headers["set-cookie"] ?? [];
    });
    socket.once("message", (data) => resolve({ socket, setCookies, greeting: data.toString() }));
    socket.once("error", reject);
  });
}

function nextMessage(socket: WebSocket): Promise<string> {
  return new Promise((resolve) => socket.once("message", (data) => resolve(data.toString())));
}

describe("WebSocket through stickylb with HTTP_COOKIE", () => {
  const backends: WsBackend[] = [];
  let proc: StickylbProcess | undefined;
  let port = 0;

  beforeAll(async () => {
    for (let i = 1; i <= 3; i++) backends.push(await startWsBackend(`b${i}`, `127.0.1.${i}`));
    port = await freeTcpPort();
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: ws}
spec:
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${port}, defaultPool: web}
  pools:
    - name: web
      sessionPersistence: {type: HTTP_COOKIE, persistenceTimeout: 10m}
      members:
${membersYaml(backends)}
`,
    );
    proc = await runStickylb([file]);
  });
  afterAll(async () => {
    await proc?.stop();
    await Promise.all(backends.map((b) => b.close()));
  });

  it("the 101 carries the cookie, messages flow both ways, a second socket with the cookie lands on the same backend", async () => {
    const first = await open(port);
    expect(first.setCookies).toHaveLength(1);
    expect(first.setCookies[0]).toMatch(/^STICKYLB=[^;]+; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax$/);
    const name = first.greeting.replace("hello from ", "");
    first.socket.send("ping");
    expect(await nextMessage(first.socket)).toBe(`${name}:ping`);
    const big = "x".repeat(200_000);
    first.socket.send(big);
    expect(await nextMessage(first.socket)).toBe(`${name}:${big}`);

    const pair = cookiePair(first.setCookies, "STICKYLB")!;
    for (let i = 0; i < 3; i++) {
      const again = await open(port, pair);
      expect(again.greeting).toBe(`hello from ${name}`);
      expect(again.setCookies).toEqual([]);
      again.socket.close();
    }
    first.socket.close();
  });

  it("spreads WebSockets without a cookie by round robin", async () => {
    const names = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const s = await open(port);
      names.add(s.greeting);
      s.socket.close();
    }
    expect(names.size).toBe(3);
  });
});

describe("a WebSocket whose bound member refuses connections", () => {
  const backends: WsBackend[] = [];
  let proc: StickylbProcess | undefined;
  let port = 0;

  beforeAll(async () => {
    for (let i = 1; i <= 2; i++) backends.push(await startWsBackend(`m${i}`, `127.0.1.${10 + i}`));
    port = await freeTcpPort();
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: ws-retry}
spec:
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${port}, defaultPool: web, accessLog: true}
  pools:
    - name: web
      sessionPersistence: {type: HTTP_COOKIE, persistenceTimeout: 10m}
      members:
${membersYaml(backends)}
`,
    );
    proc = await runStickylb([file]);
  });
  afterAll(async () => {
    await proc?.stop();
    await Promise.all(backends.map((b) => b.close()));
  });

  it("is retried on the other member with a new cookie, and its access-log line says redispatch", async () => {
    const first = await open(port);
    const bound = first.greeting.replace("hello from ", "");
    const pair = cookiePair(first.setCookies, "STICKYLB")!;
    first.socket.close();
    // The bound member stays configured and healthy (no monitor) but refuses connections.
    await backends.find((b) => b.name === bound)!.close();

    const moved = await open(port, pair);
    const other = backends.find((b) => b.name !== bound)!.name;
    expect(moved.greeting).toBe(`hello from ${other}`);
    // The binding follows the retry: a new cookie naming the other member.
    expect(moved.setCookies).toHaveLength(1);
    moved.socket.send("after");
    expect(await nextMessage(moved.socket)).toBe(`${other}:after`);
    moved.socket.close();

    const line = await proc!.waitForLog(
      (e) => e.msg === "access" && e.status === 101 && e.affinity === "redispatch",
      5_000,
    );
    expect(line).toMatchObject({ protocol: "HTTP", pool: "web", path: "/chat" });
    const metrics = (await httpGet(await proc!.adminPort(), "/metrics")).body;
    expect(metrics).toContain('stickylb_affinity_decisions_total{pool="web",result="redispatch"} 1');
    expect(metrics).toMatch(/stickylb_listener_events_total\{listener="web",event="retry"\} 1\b/);
  });
});
