/**
 * The key that authenticates HTTP_COOKIE values (docs/reference/behaviour.md#http_cookie): from `cookieSecret` (a value, or an
 * environment variable), else generated once and kept in the state folder so that a restart keeps
 * clients' cookies valid. Runs at start and at reload, on the control path: errors are refused
 * precisely (SLB_ERR_COOKIE_SECRET) instead of silently issuing a new key, which would move every
 * sticky client at once.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import type { CookieSecretModel } from "../core/model.js";
import { StickyError } from "../errors/codes.js";

/** HMAC-SHA256 keys shorter than the hash output weaken it (RFC 2104 §3); docs/configuration.md asks for 32. */
export const MIN_COOKIE_SECRET_BYTES = 32;
export const GENERATED_KEY_BYTES = 32;
export const COOKIE_KEY_FILE = "cookie-key";

/** `$XDG_STATE_HOME/stickylb`, else `~/.local/state/stickylb` (XDG Base Directory spec). */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  // The XDG spec says a relative path in the variable is invalid and must be ignored.
  if (xdg !== undefined && xdg !== "" && isAbsolute(xdg)) return join(xdg, "stickylb");
  const home = env.HOME !== undefined && env.HOME !== "" ? env.HOME : homedir();
  return join(home, ".local", "state", "stickylb");
}

export function resolveCookieKey(
  secret: CookieSecretModel | undefined,
  stateDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Buffer {
  if (secret?.value !== undefined) return checkedSecret(secret.value, "cookieSecret.value");
  if (secret?.file !== undefined) return secretFromFile(secret.file);
  if (secret?.env !== undefined) {
    const value = env[secret.env];
    if (value === undefined) {
      throw new StickyError(
        "SLB_ERR_COOKIE_SECRET",
        `cookieSecret.env: the environment variable ${secret.env} is not set (it must hold at least ${MIN_COOKIE_SECRET_BYTES} bytes)`,
      );
    }
    return checkedSecret(value, `cookieSecret.env: the environment variable ${secret.env}`);
  }
  return loadOrCreateKey(stateDir);
}

/**
 * `--cookie-secret-file`: read at every apply, so a rotated Secret takes effect at the next
 * reload. One trailing line break is not part of the key: files written by hand or `echo` end
 * with one, and every replica must derive the same key from the same Secret whichever way it was
 * made.
 */
function secretFromFile(path: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new StickyError(
      "SLB_ERR_COOKIE_SECRET",
      `--cookie-secret-file ${path}: cannot read it: ${(err as Error).message}`,
    );
  }
  let end = data.length;
  if (end > 0 && data[end - 1] === 0x0a) end--;
  if (end > 0 && data[end - 1] === 0x0d) end--;
  const key = data.subarray(0, end);
  if (key.length < MIN_COOKIE_SECRET_BYTES) {
    throw new StickyError(
      "SLB_ERR_COOKIE_SECRET",
      `--cookie-secret-file ${path} holds ${key.length} bytes; at least ${MIN_COOKIE_SECRET_BYTES} are needed (e.g. openssl rand -hex 32)`,
    );
  }
  return Buffer.from(key);
}

function checkedSecret(value: string, what: string): Buffer {
  const key = Buffer.from(value, "utf8");
  if (key.length < MIN_COOKIE_SECRET_BYTES) {
    throw new StickyError(
      "SLB_ERR_COOKIE_SECRET",
      `${what} gives ${key.length} bytes; at least ${MIN_COOKIE_SECRET_BYTES} are needed`,
    );
  }
  return key;
}

/**
 * Checks what {@link resolveCookieKey} would check, without creating anything: the secret's value
 * or environment variable, else the stored key if there is one (a missing key is generated at start,
 * which is not a problem). Throws the same errors.
 */
export function checkCookieKey(
  secret: CookieSecretModel | undefined,
  stateDir: string,
  env: NodeJS.ProcessEnv = process.env,
): void {
  if (secret?.value !== undefined || secret?.env !== undefined) {
    resolveCookieKey(secret, stateDir, env);
    return;
  }
  readKeyFile(join(stateDir, COOKIE_KEY_FILE));
}

function loadOrCreateKey(stateDir: string): Buffer {
  const file = join(stateDir, COOKIE_KEY_FILE);
  const existing = readKeyFile(file);
  if (existing !== undefined) return existing;
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw keyFileError(`cannot create the state folder ${stateDir}`, err);
  }
  const key = randomBytes(GENERATED_KEY_BYTES);
  const tmp = join(stateDir, `.${COOKIE_KEY_FILE}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    const fd = openSync(tmp, "wx", 0o600);
    try {
      writeSync(fd, key);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    publish(tmp, file);
  } catch (err) {
    throw keyFileError(`cannot write the cookie key ${file}`, err);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // Already renamed or linked away; nothing to clean up.
    }
  }
  // Read back rather than return `key`: another process starting at the same time may have won.
  const stored = readKeyFile(file);
  if (stored === undefined) throw keyFileError(`the cookie key ${file} vanished after it was written`);
  return stored;
}

/**
 * Puts the complete temp file in place atomically. `link` fails if the key already exists, so two
 * instances starting together on one state folder end up with the same key; where hard links are
 * not supported, `rename` (also atomic, but last writer wins) is the fallback.
 */
function publish(tmp: string, file: string): void {
  try {
    linkSync(tmp, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
    renameSync(tmp, file);
  }
}

/** The stored key, undefined when there is no file; a damaged file is an error, never replaced. */
function readKeyFile(file: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw keyFileError(`cannot read the cookie key ${file}`, err);
  }
  if (data.length !== GENERATED_KEY_BYTES) {
    throw new StickyError(
      "SLB_ERR_COOKIE_SECRET",
      `the cookie key ${file} holds ${data.length} bytes, not ${GENERATED_KEY_BYTES}: it is damaged. ` +
        "Restore it, or delete it to generate a new key (existing cookies then lose their binding), " +
        "or set spec.cookieSecret",
    );
  }
  return data;
}

function keyFileError(what: string, cause?: unknown): StickyError {
  const reason = cause instanceof Error ? `: ${cause.message}` : "";
  return new StickyError(
    "SLB_ERR_COOKIE_SECRET",
    `${what}${reason} (choose another folder with --state-dir, or set spec.cookieSecret)`,
  );
}
