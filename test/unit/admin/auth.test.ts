import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { adminToken, bearerMatches, isLoopback } from "../../../src/admin/auth.js";
import { StickyError } from "../../../src/errors/codes.js";

describe("admin authentication", () => {
  it("knows loopback addresses", () => {
    for (const a of ["127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1"]) {
      expect(isLoopback(a)).toBe(true);
    }
    for (const a of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "::ffff:10.0.0.1", "128.0.0.1"]) {
      expect(isLoopback(a)).toBe(false);
    }
  });

  it("requires a token file off loopback, and reads one when given", () => {
    expect(adminToken("127.0.0.1", undefined)).toBeUndefined();
    expect(() => adminToken("0.0.0.0", undefined)).toThrow(StickyError);
    expect(() => adminToken("0.0.0.0", undefined)).toThrow(/--admin-token-file/);
    const dir = mkdtempSync(join(tmpdir(), "stickylb-token-"));
    const good = join(dir, "token");
    writeFileSync(good, "0123456789abcdef0123\nignored second line\n");
    expect(adminToken("0.0.0.0", good)).toBe("0123456789abcdef0123");
    // A token given for loopback is required too: the operator asked for it.
    expect(adminToken("127.0.0.1", good)).toBe("0123456789abcdef0123");
    const short = join(dir, "short");
    writeFileSync(short, "abc\n");
    expect(() => adminToken("0.0.0.0", short)).toThrow(/at least 16 characters/);
    expect(() => adminToken("0.0.0.0", join(dir, "missing"))).toThrow(/ENOENT/);
  });

  it("compares bearer tokens exactly", () => {
    const token = "0123456789abcdef";
    expect(bearerMatches(`Bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`Bearer ${token}x`, token)).toBe(false);
    expect(bearerMatches(`Basic ${token}`, token)).toBe(false);
    expect(bearerMatches(undefined, token)).toBe(false);
    expect(bearerMatches("Bearer ", token)).toBe(false);
  });
});
