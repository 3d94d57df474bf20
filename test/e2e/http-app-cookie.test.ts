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

describe("APP_COOKIE end to end", () => {
  const backends: HttpBackend[] = [];
  let proc: StickylbProcess | undefined;
  let port = 0;

  beforeAll(async () => {
    for (let i = 1; i <= 3; i++) backends.push(await startHttpBackend(`b${i}`, `127.0.1.${i}`, "jsessionid"));
    port = await freeTcpPort();
    const file = writeConfig(
      tempDir(),
      "lb.yaml",
      `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: app-cookie}
spec:
  listeners:
    - {name: web, protocol: HTTP, address: 127.0.0.1, port: ${port}, defaultPool: web}
  pools:
    - name: web
      algorithm: ROUND_ROBIN
      sessionPersistence: {type: APP_COOKIE, cookieName: JSESSIONID, persistenceTimeout: 1m}
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

  it("learns JSESSIONID from the first response and routes later requests to that backend", async () => {
    const first = await httpGet(port);
    const pair = cookiePair(first.setCookies, "JSESSIONID")!;
    expect(pair).toMatch(/^JSESSIONID=b\d-\d+$/);
    // stickylb inserts nothing of its own.
    expect(first.setCookies).toHaveLength(1);
    for (let i = 0; i < 10; i++) {
      const again = await httpGet(port, "/", { Cookie: `a=b; ${pair}` });
      expect(again.body).toBe(first.body);
    }
  });

  it("binds an unknown value to the backend it is placed on", async () => {
    const first = await httpGet(port, "/", { Cookie: "JSESSIONID=never-seen-1" });
    for (let i = 0; i < 10; i++) {
      expect((await httpGet(port, "/", { Cookie: "JSESSIONID=never-seen-1" })).body).toBe(first.body);
    }
  });

  it("forgets a binding when the response deletes the cookie", async () => {
    const set = await httpGet(port, "/set-cookie?v=to-delete");
    const home = set.body;
    for (let i = 0; i < 3; i++)
      expect((await httpGet(port, "/", { Cookie: "JSESSIONID=to-delete" })).body).toBe(home);
    const logout = await httpGet(port, "/logout", { Cookie: "JSESSIONID=to-delete" });
    expect(logout.body).toBe(home);
    expect(logout.setCookies[0]).toContain("Max-Age=0");
    // Unbound: the value is placed afresh by round robin, whose last pick was `home` (the
    // /set-cookie request; hits do not advance it), so the fresh pick is another backend.
    const after = await httpGet(port, "/", { Cookie: "JSESSIONID=to-delete" });
    expect(after.body).not.toBe(home);
    // …and that new placement is bound in turn.
    expect((await httpGet(port, "/", { Cookie: "JSESSIONID=to-delete" })).body).toBe(after.body);
  });
});
