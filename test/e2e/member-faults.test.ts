/**
 * Member faults (docs/http.md, "Errors"): a member killed in the middle of a body, reset before
 * and after its response head, one that accepts and never answers, one that answers byte by byte,
 * one that closes kept-alive connections at random. Only the requests in flight fail, with the
 * status the docs name; sticky clients are re-placed on their next request; the process lives.
 */
import * as http from "node:http";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cookiePair, type HttpBackend, httpGet, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import {
  membersYaml,
  runStickylb,
  type StickylbProcess,
  tempDir,
  writeConfig,
} from "../support/stickylb-process.js";

type Fault =
  | "ok"
  | "kill-mid-body"
  | "reset-before-head"
  | "reset-after-head"
  | "never-answer"
  | "byte-by-byte"
  | "random-close";

/** A member on raw sockets whose behaviour the test switches; it answers GETs with a fixed body. */
async function faultyMember(address: string) {
  let fault: Fault = "ok";
  const sockets = new Set<net.Socket>();
  const BODY = "x".repeat(1000);
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffered = "";
    socket.on("data", (chunk) => {
      buffered += chunk.toString("latin1");
      let end = buffered.indexOf("\r\n\r\n");
      while (end >= 0) {
        buffered = buffered.slice(end + 4);
        answer(socket);
        end = buffered.indexOf("\r\n\r\n");
      }
    });
  });
  const head = `HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\nContent-Type: text/plain\r\n\r\n`;
  const answer = (socket: net.Socket): void => {
    switch (fault) {
      case "ok":
        socket.write(head + BODY);
        return;
      case "kill-mid-body":
        socket.write(head + BODY.slice(0, 300));
        setTimeout(() => socket.destroy(), 20);
        return;
      case "reset-before-head":
        socket.resetAndDestroy();
        return;
      case "reset-after-head":
        socket.write(head);
        setTimeout(() => socket.resetAndDestroy(), 20);
        return;
      case "never-answer":
        return;
      case "byte-by-byte": {
        const bytes = `HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n${BODY.slice(0, 40)}`;
        let i = 0;
        const timer = setInterval(() => {
          if (socket.destroyed || i >= bytes.length) {
            clearInterval(timer);
            return;
          }
          socket.write(bytes[i++]!);
        }, 2);
        return;
      }
      case "random-close":
        socket.write(head + BODY);
        // Closes the kept-alive connection right after about a third of its responses.
        if (Math.random() < 0.35) setTimeout(() => socket.end(), Math.random() * 5);
        return;
    }
  };
  await new Promise<void>((r) => server.listen({ host: address, port: 0 }, r));
  return {
    address,
    port: (server.address() as net.AddressInfo).port,
    set: (f: Fault) => {
      fault = f;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

interface Outcome {
  status: number;
  body: string;
  /** The response was cut after its head. */
  aborted: boolean;
}

/** One GET on a fresh connection, or on `agent`; status 0 when no response head came. */
function get(
  port: number,
  agent: http.Agent | false = false,
  headers: http.OutgoingHttpHeaders = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", agent, headers }, (res) => {
      let body = "";
      let aborted = false;
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("aborted", () => {
        aborted = true;
      });
      res.on("error", () => {
        aborted = true;
      });
      res.on("close", () =>
        resolve({ status: res.statusCode ?? 0, body, aborted: aborted || !res.complete }),
      );
    });
    req.on("error", () => resolve({ status: 0, body: "", aborted: true }));
  });
}

describe("member faults", () => {
  let member: Awaited<ReturnType<typeof faultyMember>>;
  const sticky: HttpBackend[] = [];
  let lb: StickylbProcess;
  let faultyPort = 0;
  let stickyPort = 0;
  let adminPort = 0;
  let dir = "";

  const config = (members: HttpBackend[]) => `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: faults}
spec:
  listeners:
    - name: faulty
      protocol: HTTP
      address: 127.0.0.1
      port: ${faultyPort}
      defaultPool: f
      timeouts: {member: 1s}
    - {name: sticky, protocol: HTTP, address: 127.0.0.1, port: ${stickyPort}, defaultPool: s}
  pools:
    - name: f
      members:
        - {address: ${member.address}, port: ${member.port}}
    - name: s
      sessionPersistence: {type: HTTP_COOKIE, persistenceTimeout: 30m}
      members:
${membersYaml(members)}
`;

  beforeAll(async () => {
    member = await faultyMember("127.0.1.1");
    sticky.push(await startHttpBackend("s1", "127.0.1.2"), await startHttpBackend("s2", "127.0.1.3"));
    faultyPort = await freeTcpPort();
    stickyPort = await freeTcpPort();
    dir = tempDir();
    lb = await runStickylb([writeConfig(dir, "lb.yaml", config(sticky))], ["--log-level", "info"]);
    adminPort = await lb.adminPort();
  });
  afterAll(async () => {
    await lb?.stop();
    await member?.close();
    for (const b of sticky) await b.close();
  });

  /** The fault hits the request in flight only: the next one, with the member healthy, is served. */
  async function nextIsServed(): Promise<void> {
    member.set("ok");
    const next = await get(faultyPort);
    expect(next.status).toBe(200);
    expect(next.body).toHaveLength(1000);
  }

  it("a member killed in the middle of a body: that response is cut, the next is served", async () => {
    member.set("kill-mid-body");
    const cut = await get(faultyPort);
    expect(cut.status).toBe(200);
    expect(cut.aborted).toBe(true);
    expect(cut.body.length).toBeLessThan(1000);
    await nextIsServed();
  });

  it("a member that resets before its response head: 502 (one member, so no other to retry on)", async () => {
    member.set("reset-before-head");
    expect((await get(faultyPort)).status).toBe(502);
    await nextIsServed();
  });

  it("a member that resets after its response head: the response is cut, the next is served", async () => {
    member.set("reset-after-head");
    const cut = await get(faultyPort);
    expect(cut.status).toBe(200);
    expect(cut.aborted).toBe(true);
    await nextIsServed();
  });

  it("a member that accepts and never answers: 504 after timeouts.member", async () => {
    member.set("never-answer");
    const started = Date.now();
    expect((await get(faultyPort)).status).toBe(504);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await nextIsServed();
  });

  it("a member that answers byte by byte: the whole response arrives", async () => {
    member.set("byte-by-byte");
    const slow = await get(faultyPort);
    expect(slow.status).toBe(200);
    expect(slow.body).toBe("x".repeat(40));
    expect(slow.aborted).toBe(false);
  });

  it("a member that closes kept-alive connections at random: no client request fails", async () => {
    member.set("random-close");
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const results = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const statuses: number[] = [];
        for (let i = 0; i < 50; i++) {
          statuses.push((await get(faultyPort, agent)).status);
          // A pause lets the member's close reach stickylb's pool, as between real requests.
          if (i % 3 === 0) await new Promise((r) => setTimeout(r, 3));
        }
        return statuses;
      }),
    );
    agent.destroy();
    expect(results.flat().filter((s) => s !== 200)).toEqual([]);
    await nextIsServed();
  });

  it("a sticky client whose member dies is re-placed on its next request and stays there; the process lives", async () => {
    const first = await httpGet(stickyPort);
    const cookie = cookiePair(first.setCookies, "STICKYLB");
    expect(cookie).toBeDefined();
    const own =
      sticky.find((b) => b.name === first.body.trim()) ?? sticky.find((b) => first.body.includes(b.name));
    expect(own).toBeDefined();
    expect((await httpGet(stickyPort, "/", { cookie: cookie! })).body).toBe(first.body);
    await own!.close();
    const moved = await httpGet(stickyPort, "/", { cookie: cookie! });
    expect(moved.status).toBe(200);
    expect(moved.body).not.toBe(first.body);
    const newCookie = cookiePair(moved.setCookies, "STICKYLB");
    expect(newCookie).toBeDefined();
    for (let i = 0; i < 5; i++)
      expect((await httpGet(stickyPort, "/", { cookie: newCookie! })).body).toBe(moved.body);
    expect((await fetch(`http://127.0.0.1:${adminPort}/healthz`)).status).toBe(200);
    expect(lb.child.exitCode).toBeNull();
  });
});
