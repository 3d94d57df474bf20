import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as net from "node:net";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { HealthMonitor } from "../../../src/core/model.js";
import {
  codeAccepted,
  httpProbe,
  httpsProbe,
  tcpProbe,
  udpConnectProbe,
} from "../../../src/health/probes.js";
import { freeTcpPort, freeUdpPort } from "../../support/ports.js";
import { tempDir } from "../../support/stickylb-process.js";
import { startUdpBackend } from "../../support/udp-backends.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function monitor(overrides: Partial<HealthMonitor> = {}): HealthMonitor {
  return {
    type: "HTTP",
    delayMs: 1000,
    timeoutMs: 1000,
    maxRetries: 1,
    maxRetriesDown: 1,
    urlPath: "/healthz",
    expectedCodes: [[200, 200]],
    ...overrides,
  };
}

const never = (): AbortSignal => new AbortController().signal;

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

/** An HTTP(S) handler answering `status`, recording the request line and Host header. */
function handler(status: () => number, seen: string[]): http.RequestListener {
  return (req, res) => {
    seen.push(`${req.method} ${req.url} host=${req.headers.host}`);
    res.writeHead(status(), { connection: "close" });
    res.end("body");
  };
}

describe("expectedCodes", () => {
  it("accepts codes inside any inclusive range", () => {
    const ranges = [
      [200, 200],
      [300, 399],
    ] as const;
    expect([199, 200, 201, 299, 300, 399, 400].map((c) => codeAccepted(c, ranges))).toEqual([
      false,
      true,
      false,
      false,
      true,
      true,
      false,
    ]);
  });
});

describe("TCP probe", () => {
  it("passes when the member accepts", async () => {
    const port = await listen(net.createServer((s) => s.destroy()));
    expect(await tcpProbe({ address: "127.0.0.1", port }, monitor({ type: "TCP" }), never())).toEqual({
      ok: true,
      detail: "connected",
    });
  });

  it("fails with the error code when refused", async () => {
    const port = await freeTcpPort();
    expect(await tcpProbe({ address: "127.0.0.1", port }, monitor({ type: "TCP" }), never())).toEqual({
      ok: false,
      detail: "ECONNREFUSED",
    });
  });

  it("fails as a timeout when aborted before the connection is up", async () => {
    const port = await freeTcpPort();
    const ac = new AbortController();
    const pending = tcpProbe({ address: "127.0.0.1", port }, monitor({ type: "TCP" }), ac.signal);
    ac.abort();
    expect(await pending).toEqual({ ok: false, detail: "timeout" });
  });
});

describe("HTTP probe", () => {
  it("GETs urlPath with the member as Host and passes on an expected code", async () => {
    const seen: string[] = [];
    const port = await listen(http.createServer(handler(() => 200, seen)));
    expect(await httpProbe({ address: "127.0.0.1", port }, monitor(), never())).toEqual({
      ok: true,
      detail: "HTTP 200",
    });
    expect(seen).toEqual([`GET /healthz host=127.0.0.1:${port}`]);
  });

  it("fails on a code outside expectedCodes and passes on one inside a range", async () => {
    let status = 503;
    const port = await listen(http.createServer(handler(() => status, [])));
    const target = { address: "127.0.0.1", port };
    expect(await httpProbe(target, monitor(), never())).toEqual({ ok: false, detail: "HTTP 503" });
    status = 302;
    expect(await httpProbe(target, monitor(), never())).toEqual({ ok: false, detail: "HTTP 302" });
    expect(await httpProbe(target, monitor({ expectedCodes: [[200, 399]] }), never())).toEqual({
      ok: true,
      detail: "HTTP 302",
    });
  });

  it("fails when refused, and as a timeout when the member never answers", async () => {
    const refused = await freeTcpPort();
    expect(await httpProbe({ address: "127.0.0.1", port: refused }, monitor(), never())).toEqual({
      ok: false,
      detail: "ECONNREFUSED",
    });
    const port = await listen(http.createServer(() => {}));
    const ac = new AbortController();
    const pending = httpProbe({ address: "127.0.0.1", port }, monitor(), ac.signal);
    setTimeout(() => ac.abort(), 50);
    expect(await pending).toEqual({ ok: false, detail: "timeout" });
  });
});

describe("HTTPS probe", () => {
  let key = "";
  let cert = "";
  beforeAll(() => {
    const dir = tempDir("stickylb-probe-tls-");
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=member.test", "-days", "1"].concat([
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ]),
      { stdio: "ignore" },
    );
    key = readFileSync(join(dir, "key.pem"), "utf8");
    cert = readFileSync(join(dir, "cert.pem"), "utf8");
  });

  it("passes against a self-signed certificate (not verified) on an expected code", async () => {
    const seen: string[] = [];
    const port = await listen(
      https.createServer(
        { key, cert },
        handler(() => 204, seen),
      ),
    );
    expect(
      await httpsProbe(
        { address: "127.0.0.1", port },
        monitor({ type: "HTTPS", expectedCodes: [[200, 299]] }),
        never(),
      ),
    ).toEqual({ ok: true, detail: "HTTP 204" });
    expect(seen).toEqual([`GET /healthz host=127.0.0.1:${port}`]);
  });
});

describe("UDP_CONNECT probe", () => {
  it("passes on a reply", async () => {
    const b = await startUdpBackend("echo");
    cleanups.push(() => b.close());
    expect(await udpConnectProbe(b, monitor({ type: "UDP_CONNECT" }), never())).toEqual({
      ok: true,
      detail: "reply",
    });
    expect(b.received()).toBe(1);
  });

  it("passes on silence until the timeout", async () => {
    const b = await startUdpBackend("quiet", "127.0.0.1", 0, true);
    cleanups.push(() => b.close());
    const result = await udpConnectProbe(b, monitor({ type: "UDP_CONNECT" }), AbortSignal.timeout(100));
    expect(result).toEqual({ ok: true, detail: "no port unreachable within the timeout" });
    expect(b.received()).toBe(1);
  });

  it("fails on ICMP port unreachable (ECONNREFUSED)", async () => {
    const port = await freeUdpPort();
    expect(
      await udpConnectProbe({ address: "127.0.0.1", port }, monitor({ type: "UDP_CONNECT" }), never()),
    ).toEqual({
      ok: false,
      detail: "ECONNREFUSED (port unreachable)",
    });
  });
});
