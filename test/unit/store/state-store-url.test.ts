import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  parseStateStoreUrl,
  readStorePasswordFile,
  redactStateStoreUrl,
} from "../../../src/store/state-store-url.js";
import { bindingKey, storedClientKey } from "../../../src/store/stored-key.js";

function ok(url: string) {
  const r = parseStateStoreUrl(url);
  if (!r.ok) throw new Error(r.message);
  return r.target;
}
function bad(url: string): string {
  const r = parseStateStoreUrl(url);
  if (r.ok) throw new Error(`${url} was accepted`);
  return r.message;
}

describe("state store URL", () => {
  it("reads a plain redis URL", () => {
    expect(ok("redis://127.0.0.1:6379")).toEqual({
      mode: "standalone",
      nodes: [{ host: "127.0.0.1", port: 6379 }],
      tls: false,
      db: 0,
    });
  });

  it("reads user, password and database; %-escapes decoded", () => {
    expect(ok("rediss://app:p%40ss:w@redis.example:6380/3")).toEqual({
      mode: "standalone",
      nodes: [{ host: "redis.example", port: 6380 }],
      tls: true,
      db: 3,
      username: "app",
      password: "p@ss:w",
    });
  });

  it("a lone name before @ is a password (Redis URL habit)", () => {
    expect(ok("redis://secret@h:1")).toMatchObject({ password: "secret" });
    expect(ok("redis://secret@h:1").username).toBeUndefined();
    expect(ok("redis://:secret@h:1")).toMatchObject({ password: "secret" });
  });

  it("reads a cluster seed list and IPv6 in brackets", () => {
    expect(ok("redis+cluster://10.0.0.1:7000,10.0.0.2:7001,[::1]:7002")).toEqual({
      mode: "cluster",
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "10.0.0.2", port: 7001 },
        { host: "::1", port: 7002 },
      ],
      tls: false,
      db: 0,
    });
    expect(ok("rediss+cluster://h:7000").tls).toBe(true);
  });

  it.each([
    ["http://h:1", 'the scheme "http" is not supported'],
    ["h:6379", "it has no scheme"],
    ["redis://h", '"h" has no port'],
    ["redis://h:0", "out of range"],
    ["redis://h:99999", "out of range"],
    ["redis://h:abc", 'the port "abc"'],
    ["redis://h:1/x", 'the database "x" is not a number'],
    ["redis://a:1,b:2", "only allowed with redis+cluster://"],
    ["redis+cluster://a:1/2", "only database 0"],
    ["redis+cluster://a:1,,b:2", "a host:port is empty"],
    ["redis://::1:6379", "IPv6 address in brackets"],
    ["redis://h:1?db=2", "query strings"],
    ["redis://:1", "no valid host"],
  ])("refuses %s", (url, why) => {
    const message = bad(url);
    expect(message).toContain(why);
    expect(message).toContain("is not a valid state store URL");
    expect(message).toContain("accepted: redis://");
  });

  it("never shows the password in an error", () => {
    const message = bad("redis://u:topsecret@h:xx");
    expect(message).not.toContain("topsecret");
    expect(message).toContain('"redis://u:***@h:xx"');
    expect(redactStateStoreUrl("redis://topsecret@h:1")).toBe("redis://***@h:1");
    expect(redactStateStoreUrl("redis://h:1")).toBe("redis://h:1");
  });

  it("reads a password file without its trailing newline; refuses an empty or missing one", () => {
    const dir = mkdtempSync(join(tmpdir(), "stickylb-pw-"));
    writeFileSync(join(dir, "pw"), "s3cret\n");
    writeFileSync(join(dir, "empty"), "\n");
    expect(readStorePasswordFile(join(dir, "pw"))).toBe("s3cret");
    expect(() => readStorePasswordFile(join(dir, "empty"))).toThrow(/is empty/);
    expect(() => readStorePasswordFile(join(dir, "none"))).toThrow(/cannot read the password file/);
  });
});

describe("stored keys", () => {
  it("an APP_COOKIE value is stored as its SHA-256, base64url without padding; a source IP as is", () => {
    // sha256("abc"), a published test vector, in base64url.
    expect(storedClientKey("APP_COOKIE", "abc")).toBe("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    expect(storedClientKey("SOURCE_IP", "10.1.2.3")).toBe("10.1.2.3");
    expect(bindingKey("stickylb:", "web", "10.1.2.3")).toBe("stickylb:binding:web:10.1.2.3");
  });
});
