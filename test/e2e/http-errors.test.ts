import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpBackend, httpGet, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import { rawExchange } from "../support/raw-socket.js";
import { runStickylb, type StickylbProcess, tempDir, writeConfig } from "../support/stickylb-process.js";

describe("HTTP error answers end to end", () => {
  let proc: StickylbProcess | undefined;
  let port = 0;
  let hanging: HttpBackend | undefined;
  let resetting: HttpBackend | undefined;
  let healthy: HttpBackend | undefined;

  beforeAll(async () => {
    hanging = await startHttpBackend("hang", "127.0.1.1", "hang");
    resetting = await startHttpBackend("reset", "127.0.1.2", "reset");
    healthy = await startHttpBackend("ok", "127.0.1.3");
    const dead = await freeTcpPort("127.0.1.4");
    port = await freeTcpPort();
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: errors}
spec:
  listeners:
    - name: web
      protocol: HTTP
      address: 127.0.0.1
      port: ${port}
      defaultPool: ok
      timeouts: {member: 1s, connect: 1s}
      rules:
        - {path: /hang, pool: hang}
        - {path: /reset, pool: reset}
        - {path: /dead, pool: dead}
        - {path: /empty, pool: empty}
  pools:
    - name: ok
      members: [{address: 127.0.1.3, port: ${healthy.port}}]
    - name: hang
      members: [{address: 127.0.1.1, port: ${hanging.port}}]
    - name: reset
      members: [{address: 127.0.1.2, port: ${resetting.port}}]
    - name: dead
      members: [{address: 127.0.1.4, port: ${dead}}]
    - name: empty
      members: []
`,
    );
    proc = await runStickylb([file]);
  });
  afterAll(async () => {
    await proc?.stop();
    await Promise.all([hanging, resetting, healthy].map((b) => b?.close()));
  });

  it("serves the healthy pool", async () => {
    expect((await httpGet(port)).body).toBe("ok\n");
  });

  it("502 when the member refuses the connection or resets before answering", async () => {
    expect((await httpGet(port, "/dead")).status).toBe(502);
    expect((await httpGet(port, "/reset")).status).toBe(502);
  });

  it("503 when the pool has no member", async () => {
    expect((await httpGet(port, "/empty")).status).toBe(503);
  });

  it("504 when the member stays silent past the member timeout", async () => {
    const started = Date.now();
    expect((await httpGet(port, "/hang")).status).toBe(504);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it("431 for a head over 64 KiB and 400 for ambiguous framing, neither reaching a member", async () => {
    const before = healthy!.requests();
    const big = await rawExchange(port, `GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${"x".repeat(70_000)}\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1\.1 431 /);
    const smuggled = await rawExchange(
      port,
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    expect(smuggled).toMatch(/^HTTP\/1\.1 400 /);
    expect(smuggled.match(/HTTP\/1\.1/g)).toHaveLength(1);
    expect(healthy!.requests()).toBe(before);
  });
});
