import { readFileSync } from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCertificate } from "../support/certificates.js";
import { type HttpBackend, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import { runStickylb, type StickylbProcess, tempDir, writeConfig } from "../support/stickylb-process.js";

/** Sends `header` then one GET over `socket` (plain or TLS) and resolves with the status line. */
function requestAfterHeader(port: number, header: string, ca?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ host: "127.0.0.1", port }, () => {
      raw.write(header);
      const stream: net.Socket =
        ca === undefined ? raw : tls.connect({ socket: raw, servername: "proxied.test", ca });
      let text = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        text += chunk;
        if (text.includes("\r\n")) {
          resolve(text.slice(0, text.indexOf("\r\n")));
          stream.destroy();
        }
      });
      stream.on("error", reject);
      stream.on("close", () => reject(new Error("closed without a response")));
      stream.write("GET / HTTP/1.1\r\nHost: proxied.test\r\nConnection: close\r\n\r\n");
    });
    raw.on("error", reject);
  });
}

describe("PROXY protocol on HTTP and HTTPS listeners", () => {
  let backend: HttpBackend;
  let proc: StickylbProcess;
  let httpPort: number;
  let httpsPort: number;
  let ca: string;

  beforeAll(async () => {
    backend = await startHttpBackend("h1", "127.0.1.1");
    httpPort = await freeTcpPort();
    httpsPort = await freeTcpPort();
    const dir = tempDir();
    const cert = makeCertificate(dir, "proxied.test");
    ca = readFileSync(cert.cert, "utf8");
    const file = writeConfig(
      dir,
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: pp-http}
spec:
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${httpPort}, defaultPool: p, proxyProtocol: true}
    - name: secure
      protocol: HTTPS
      address: 127.0.0.1
      port: ${httpsPort}
      defaultPool: p
      proxyProtocol: true
      tls: [{certFile: ${cert.cert}, keyFile: ${cert.key}}]
  pools:
    - name: p
      members:
        - {address: ${backend.address}, port: ${backend.port}}
`,
    );
    proc = await runStickylb([file]);
  });
  afterAll(async () => {
    await proc?.stop();
    await backend?.close();
  });

  it("HTTP: the carried address is the client in X-Forwarded-For", async () => {
    const status = await requestAfterHeader(httpPort, "PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n");
    expect(status).toBe("HTTP/1.1 200 OK");
    expect(backend.lastHeaders()?.["x-forwarded-for"]).toBe("203.0.113.7");
  });

  it("HTTPS: the header comes before the TLS handshake and its address is used", async () => {
    const status = await requestAfterHeader(
      httpsPort,
      "PROXY TCP4 198.51.100.23 127.0.0.1 40000 443\r\n",
      ca,
    );
    expect(status).toBe("HTTP/1.1 200 OK");
    expect(backend.lastHeaders()?.["x-forwarded-for"]).toBe("198.51.100.23");
    expect(backend.lastHeaders()?.["x-forwarded-proto"]).toBe("https");
  });

  it("a request without a header is refused and never reaches the member", async () => {
    const before = backend.requests();
    await expect(requestAfterHeader(httpPort, "")).rejects.toThrow(/closed/);
    expect(backend.requests()).toBe(before);
  });
});
