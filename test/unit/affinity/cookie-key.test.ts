import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StickyError } from "../../../src/errors/codes.js";
import { defaultStateDir, resolveCookieKey } from "../../../src/runtime/cookie-key.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "stickylb-cookie-key-"));
});
afterEach(() => {
  chmodSync(dir, 0o700);
  rmSync(dir, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof StickyError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error("did not throw");
}

describe("resolveCookieKey from configuration", () => {
  it("uses cookieSecret.value as UTF-8 bytes", () => {
    const secret = "é".repeat(16); // 16 characters, 32 bytes
    expect(resolveCookieKey({ value: secret }, dir, {})).toEqual(Buffer.from(secret, "utf8"));
  });

  it("refuses a value shorter than 32 bytes", () => {
    const e = codeOf(() => resolveCookieKey({ value: "x".repeat(31) }, dir, {}));
    expect(e.code).toBe("SLB_ERR_COOKIE_SECRET");
    expect(e.message).toContain("31 bytes");
  });

  it("reads the named environment variable", () => {
    const env = { MY_SECRET: "s".repeat(40) };
    expect(resolveCookieKey({ env: "MY_SECRET" }, dir, env)).toEqual(Buffer.from("s".repeat(40)));
  });

  it("refuses an unset or short variable, naming it", () => {
    const unset = codeOf(() => resolveCookieKey({ env: "MY_SECRET" }, dir, {}));
    expect(unset.code).toBe("SLB_ERR_COOKIE_SECRET");
    expect(unset.message).toContain("MY_SECRET");
    expect(unset.message).toContain("not set");
    const short = codeOf(() => resolveCookieKey({ env: "MY_SECRET" }, dir, { MY_SECRET: "short" }));
    expect(short.code).toBe("SLB_ERR_COOKIE_SECRET");
    expect(short.message).toContain("MY_SECRET");
    expect(short.message).toContain("5 bytes");
  });

  it("writes nothing to the state folder when a secret is configured", () => {
    resolveCookieKey({ value: "v".repeat(32) }, join(dir, "state"), {});
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("resolveCookieKey without a secret: the generated key", () => {
  it("creates the folder and a 32-byte key file readable only by its owner", () => {
    const stateDir = join(dir, "a", "b", "stickylb");
    const key = resolveCookieKey(undefined, stateDir, {});
    expect(key).toHaveLength(32);
    const file = join(stateDir, "cookie-key");
    expect(readFileSync(file)).toEqual(key);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(stateDir)).toEqual(["cookie-key"]); // no temp file left behind
  });

  it("reads the same key back on the next start", () => {
    const first = resolveCookieKey(undefined, dir, {});
    const second = resolveCookieKey(undefined, dir, {});
    expect(second).toEqual(first);
  });

  it("gives different keys in different state folders", () => {
    const a = resolveCookieKey(undefined, join(dir, "a"), {});
    const b = resolveCookieKey(undefined, join(dir, "b"), {});
    expect(a).not.toEqual(b);
  });

  it("refuses a damaged key file and leaves it in place", () => {
    writeFileSync(join(dir, "cookie-key"), Buffer.alloc(12));
    const e = codeOf(() => resolveCookieKey(undefined, dir, {}));
    expect(e.code).toBe("SLB_ERR_COOKIE_SECRET");
    expect(e.message).toContain("12 bytes");
    expect(readFileSync(join(dir, "cookie-key"))).toHaveLength(12);
  });

  it("refuses a key path that is a folder", () => {
    mkdirSync(join(dir, "cookie-key"));
    expect(codeOf(() => resolveCookieKey(undefined, dir, {})).code).toBe("SLB_ERR_COOKIE_SECRET");
  });

  it("refuses a state folder that cannot be created", () => {
    writeFileSync(join(dir, "file"), "not a folder");
    const e = codeOf(() => resolveCookieKey(undefined, join(dir, "file", "stickylb"), {}));
    expect(e.code).toBe("SLB_ERR_COOKIE_SECRET");
    expect(e.message).toContain("--state-dir");
  });

  it.skipIf(process.getuid?.() === 0)(
    "refuses a state folder it cannot write (skipped as root: root writes anyway)",
    () => {
      chmodSync(dir, 0o500);
      const e = codeOf(() => resolveCookieKey(undefined, dir, {}));
      expect(e.code).toBe("SLB_ERR_COOKIE_SECRET");
      expect(e.message).toContain("--state-dir");
    },
  );
});

describe("defaultStateDir", () => {
  it("uses $XDG_STATE_HOME/stickylb", () => {
    expect(defaultStateDir({ XDG_STATE_HOME: "/var/state", HOME: "/home/u" })).toBe("/var/state/stickylb");
  });

  it("falls back to ~/.local/state/stickylb, also when XDG_STATE_HOME is empty or relative", () => {
    expect(defaultStateDir({ HOME: "/home/u" })).toBe("/home/u/.local/state/stickylb");
    expect(defaultStateDir({ HOME: "/home/u", XDG_STATE_HOME: "" })).toBe("/home/u/.local/state/stickylb");
    expect(defaultStateDir({ HOME: "/home/u", XDG_STATE_HOME: "state" })).toBe(
      "/home/u/.local/state/stickylb",
    );
  });
});

describe("--cookie-secret-file", () => {
  it("reads the key from the file, one trailing line break aside, so replicas mounting one Secret agree", () => {
    const file = join(dir, "secret");
    const secret = "0123456789abcdef0123456789abcdef";
    writeFileSync(file, `${secret}\n`);
    const key = resolveCookieKey({ file }, join(dir, "state"));
    expect(key.toString("utf8")).toBe(secret);
    writeFileSync(file, secret);
    expect(resolveCookieKey({ file }, join(dir, "state")).equals(key)).toBe(true);
    // Nothing is generated in the state folder when the key comes from a file.
    expect(() => readdirSync(join(dir, "state"))).toThrow();
  });

  it("refuses a short or missing file with a clear error", () => {
    const file = join(dir, "short");
    writeFileSync(file, "too-short\n");
    const short = codeOf(() => resolveCookieKey({ file }, dir));
    expect(short.code).toBe("SLB_ERR_COOKIE_SECRET");
    expect(short.message).toBe(
      `--cookie-secret-file ${file} holds 9 bytes; at least 32 are needed (e.g. openssl rand -hex 32)`,
    );
    const missing = codeOf(() => resolveCookieKey({ file: join(dir, "absent") }, dir));
    expect(missing.code).toBe("SLB_ERR_COOKIE_SECRET");
    expect(missing.message).toMatch(/^--cookie-secret-file .*absent: cannot read it: ENOENT/);
  });
});
