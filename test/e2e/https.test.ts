import { readFileSync } from "node:fs";
import * as https from "node:https";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCertificate } from "../support/certificates.js";
import { cookiePair, type HttpBackend, startHttpBackend } from "../support/http-backends.js";
import { freeTcpPort } from "../support/ports.js";
import {
  membersYaml,
  runStickylb,
  type StickylbProcess,
  tempDir,
  writeConfig,
} from "../support/stickylb-process.js";

interface TlsAnswer {
  readonly status: number;
  readonly body: string;
  readonly setCookies: string[];
  readonly peerCn: string;
}

function httpsGet(port: number, servername: string, ca: string, cookie?: string): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port,
        servername,
        ca,
        path: "/",
        agent: false,
        headers: { Host: servername, ...(cookie === undefined ? {} : { Cookie: cookie }) },
      },
      (res) => {
        const peerCn = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN ?? "");
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body, setCookies: res.headers["set-cookie"] ?? [], peerCn }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("HTTPS end to end", () => {
  const backends: HttpBackend[] = [];
  let proc: StickylbProcess | undefined;
  let port = 0;
  let one = { cert: "", key: "" };
  let two = { cert: "", key: "" };

  beforeAll(async () => {
    const dir = tempDir();
    one = makeCertificate(dir, "one.test");
    two = makeCertificate(dir, "two.test");
    for (let i = 1; i <= 2; i++) backends.push(await startHttpBackend(`b${i}`, `127.0.1.${i}`));
    port = await freeTcpPort();
    // Relative certificate paths: relative to the YAML file's folder (docs/configuration.md).
    const file = writeConfig(
      dir,
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: tls}
spec:
  listeners:
    - name: secure
      protocol: HTTPS
      address: 127.0.0.1
      port: ${port}
      defaultPool: web
      tls:
        - {certFile: one.test.crt, keyFile: one.test.key}
        - {certFile: ${two.cert}, keyFile: ${two.key}}
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

  it("terminates TLS, inserts a Secure cookie and sticks", async () => {
    const ca = readFileSync(one.cert, "utf8");
    const first = await httpsGet(port, "one.test", ca);
    expect(first.status).toBe(200);
    expect(first.setCookies[0]).toMatch(
      /^STICKYLB=[^;]+; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/,
    );
    const pair = cookiePair(first.setCookies, "STICKYLB")!;
    for (let i = 0; i < 5; i++) expect((await httpsGet(port, "one.test", ca, pair)).body).toBe(first.body);
  });

  it("chooses the certificate by SNI", async () => {
    const a = await httpsGet(port, "one.test", readFileSync(one.cert, "utf8"));
    expect(a.peerCn).toBe("one.test");
    const b = await httpsGet(port, "two.test", readFileSync(two.cert, "utf8"));
    expect(b.peerCn).toBe("two.test");
  });
});
