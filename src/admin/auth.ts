import { timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { StickyError } from "../errors/codes.js";

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, IPv4-mapped loopback, `localhost`. */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  if (a === "localhost" || a === "::1") return true;
  const v4 = a.startsWith("::ffff:") ? a.slice(7) : a;
  return isIP(v4) === 4 && v4.startsWith("127.");
}

/** Reads the bearer token (the file's first line, trimmed); refuses an empty or unreadable file. */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new StickyError("SLB_ERR_ADMIN_TOKEN", `--admin-token-file ${path}: ${(err as Error).message}`);
  }
  const token = (text.split(/\r?\n/, 1)[0] ?? "").trim();
  if (token.length < 16) {
    throw new StickyError(
      "SLB_ERR_ADMIN_TOKEN",
      `--admin-token-file ${path}: the token must be at least 16 characters on the first line (got ${token.length})`,
    );
  }
  return token;
}

/**
 * The token the admin listener requires, or undefined for none. A listener off loopback without a
 * token is refused: the API can unbind clients and shows where every member is.
 */
export function adminToken(address: string, tokenFile: string | undefined): string | undefined {
  if (tokenFile !== undefined) return readTokenFile(tokenFile);
  if (!isLoopback(address)) {
    throw new StickyError(
      "SLB_ERR_ADMIN_TOKEN",
      `the admin listener on ${address} is reachable from other machines and needs a bearer token: pass --admin-token-file FILE, or bind it to 127.0.0.1`,
    );
  }
  return undefined;
}

/** Compares `Authorization: Bearer …` with the token in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (m === null) return false;
  const given = Buffer.from(m[1]!);
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}
