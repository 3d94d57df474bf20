/** Validation of one `apiVersion: stickylb/v1`, `kind: LoadBalancer` document (docs/configuration.md). */
import { isAbsolute, resolve } from "node:path";
import type { AdminModel, CookieSecretModel, StateStoreModel } from "../../core/model.js";
import { DEFAULT_KEY_PREFIX, parseStateStoreUrl } from "../../store/state-store-url.js";
import type { ConfigError, FieldPath, Position } from "./config-error.js";
import { type ListenerEntry, type Locate, nativeLocator, type PoolEntry } from "./entries.js";
import {
  bad,
  type FieldKind,
  ipAddress,
  isPresent,
  name,
  ok,
  optional,
  port,
  Reporter,
  readList,
  readMap,
  required,
  text,
} from "./fields.js";
import { readListener } from "./native-listener.js";
import { readPool } from "./native-pool.js";

const DOCUMENT_FIELDS = ["apiVersion", "kind", "metadata", "spec"];
const METADATA_FIELDS = ["name", "namespace", "labels", "annotations"];
/** The fields under `spec:` of a LoadBalancer document. */
const BODY_FIELDS = ["admin", "cookieSecret", "stateStore", "listeners", "pools"];
const STATE_STORE_FIELDS = ["url", "keyPrefix", "passwordFile"];
const ADMIN_FIELDS = ["address", "port"];
const SECRET_FIELDS = ["env", "value"];

/** HMAC-SHA256 keys shorter than the hash output weaken it (RFC 2104 section 3). */
export const MIN_COOKIE_SECRET_BYTES = 32;

const envName = text(
  "an environment variable name (letters, digits and _, not starting with a digit)",
  (value) =>
    /^[A-Za-z_][A-Za-z0-9_]*$/.test(value) ? undefined : "is not a valid environment variable name",
);

/** The URL's own message already shows the value, with any password hidden. */
const storeUrl: FieldKind<string> = {
  describe:
    "a URL: redis://[user:pass@]host:port[/db], rediss://…, or redis+cluster://host:port[,host:port…]",
  check(value) {
    if (typeof value !== "string")
      return bad(`${JSON.stringify(value)} is not a string (${storeUrl.describe})`);
    const parsed = parseStateStoreUrl(value);
    return parsed.ok ? ok(value) : bad(parsed.message);
  },
};

const keyPrefix = text("a key prefix of 1–64 characters without spaces, like stickylb:", (value) =>
  /^[!-~]{1,64}$/.test(value) ? undefined : "is not a valid key prefix",
);

const passwordFileName = text("a file path", (value) => (value === "" ? "is empty" : undefined));

export interface Located<T> {
  readonly value: T;
  readonly at: Locate;
}

export interface NativeDocument {
  /** `LoadBalancer/NAME` (`LoadBalancer/?` when the name is missing or bad). */
  readonly object: string;
  readonly name: Located<string> | undefined;
  readonly listeners: ListenerEntry[];
  readonly pools: PoolEntry[];
  readonly admin: Located<AdminModel> | undefined;
  readonly cookieSecret: Located<CookieSecretModel> | undefined;
  readonly stateStore: Located<StateStoreModel> | undefined;
}

export interface NativeInput {
  readonly file: string;
  /** The document (or List item) as plain JavaScript. */
  readonly value: Record<string, unknown>;
  /** Positions, relative to the document (or List item). */
  readonly lineOf: (path: FieldPath) => Position;
  /** Folder that relative certificate paths are relative to. */
  readonly baseDir: string;
  /** Returns why `file` cannot be read, or undefined when it can. */
  readonly checkReadable: (file: string) => string | undefined;
}

function readCookieSecret(r: Reporter, path: FieldPath, value: unknown): CookieSecretModel | undefined {
  const obj = readMap(r, path, value, SECRET_FIELDS);
  if (obj === undefined) return undefined;
  const hasEnv = isPresent(obj, "env");
  const hasValue = isPresent(obj, "value");
  if (hasEnv === hasValue) {
    r.error(path, `give exactly one of env and value (found ${hasEnv ? "both" : "neither"})`);
    return undefined;
  }
  if (hasEnv) {
    const env = optional(r, obj, path, "env", envName);
    return env === undefined ? undefined : { env };
  }
  const secret = optional(r, obj, path, "value", text("a string of at least 32 bytes"));
  if (secret === undefined) return undefined;
  const bytes = Buffer.byteLength(secret, "utf8");
  if (bytes < MIN_COOKIE_SECRET_BYTES) {
    // The secret itself is never echoed into logs.
    r.error(
      [...path, "value"],
      `a secret of ${bytes} bytes is too short (at least ${MIN_COOKIE_SECRET_BYTES} bytes)`,
    );
    return undefined;
  }
  return { value: secret };
}

function readStateStore(
  r: Reporter,
  path: FieldPath,
  value: unknown,
  baseDir: string,
  checkReadable: (file: string) => string | undefined,
): StateStoreModel | undefined {
  const obj = readMap(r, path, value, STATE_STORE_FIELDS);
  if (obj === undefined) return undefined;
  const url = required(r, obj, path, "url", storeUrl);
  const prefix = optional(r, obj, path, "keyPrefix", keyPrefix, DEFAULT_KEY_PREFIX);
  const given = optional(r, obj, path, "passwordFile", passwordFileName);
  let passwordFile: string | undefined;
  if (given !== undefined) {
    // Relative to the folder of the YAML file that names it, like certificate files.
    passwordFile = isAbsolute(given) ? given : resolve(baseDir, given);
    const problem = checkReadable(passwordFile);
    if (problem !== undefined)
      r.error([...path, "passwordFile"], `${JSON.stringify(given)} cannot be read (${problem})`);
  }
  if (url === undefined || prefix === undefined) return undefined;
  return { url, keyPrefix: prefix, ...(passwordFile === undefined ? {} : { passwordFile }) };
}

function readAdmin(r: Reporter, path: FieldPath, value: unknown): AdminModel | undefined {
  const obj = readMap(r, path, value, ADMIN_FIELDS);
  if (obj === undefined) return undefined;
  const address = optional(r, obj, path, "address", ipAddress, "127.0.0.1");
  const adminPort = required(r, obj, path, "port", port);
  return address === undefined || adminPort === undefined ? undefined : { address, port: adminPort };
}

/**
 * Validates one native document. Problems go to `errors`/`warnings`; the entries are returned
 * even when some fields were bad, so the cross-document checks see every name.
 */
export function readNativeDocument(
  input: NativeInput,
  errors: ConfigError[],
  warnings: ConfigError[],
): NativeDocument {
  const r = new Reporter(input.file, "LoadBalancer/?", input.lineOf, errors, warnings);
  const root = readMap(r, [], input.value, DOCUMENT_FIELDS) ?? {};
  const locate = (base: FieldPath): Locate => nativeLocator(input.file, () => r.object, input.lineOf, base);

  let docName: Located<string> | undefined;
  if (!isPresent(root, "metadata")) {
    r.error(["metadata"], "a required field is missing (a mapping with at least name)");
  } else {
    const metadata = readMap(r, ["metadata"], root.metadata, METADATA_FIELDS);
    const value = metadata === undefined ? undefined : required(r, metadata, ["metadata"], "name", name);
    if (value !== undefined) {
      r.object = `LoadBalancer/${value}`;
      docName = { value, at: locate(["metadata", "name"]) };
    }
  }

  const result: NativeDocument = {
    object: r.object,
    name: docName,
    listeners: [],
    pools: [],
    admin: undefined,
    cookieSecret: undefined,
    stateStore: undefined,
  };
  if (!isPresent(root, "spec")) {
    r.error(["spec"], "a required field is missing (a mapping with listeners and pools)");
    return result;
  }
  const spec = readMap(r, ["spec"], root.spec, BODY_FIELDS);
  if (spec === undefined) return result;

  const pools = isPresent(spec, "pools") ? (readList(r, ["spec", "pools"], spec.pools, "pools") ?? []) : [];
  const listeners = isPresent(spec, "listeners")
    ? (readList(r, ["spec", "listeners"], spec.listeners, "listeners") ?? [])
    : [];
  listeners.forEach((item, i) => {
    const entry = readListener(r, ["spec", "listeners", i], item, input.baseDir, input.checkReadable);
    if (entry !== undefined) result.listeners.push(entry);
  });
  pools.forEach((item, i) => {
    const entry = readPool(r, ["spec", "pools", i], item);
    if (entry !== undefined) result.pools.push(entry);
  });
  const admin = isPresent(spec, "admin") ? readAdmin(r, ["spec", "admin"], spec.admin) : undefined;
  const cookieSecret = isPresent(spec, "cookieSecret")
    ? readCookieSecret(r, ["spec", "cookieSecret"], spec.cookieSecret)
    : undefined;
  const stateStore = isPresent(spec, "stateStore")
    ? readStateStore(r, ["spec", "stateStore"], spec.stateStore, input.baseDir, input.checkReadable)
    : undefined;
  return {
    ...result,
    stateStore:
      stateStore === undefined ? undefined : { value: stateStore, at: locate(["spec", "stateStore"]) },
    admin: admin === undefined ? undefined : { value: admin, at: locate(["spec", "admin"]) },
    cookieSecret:
      cookieSecret === undefined ? undefined : { value: cookieSecret, at: locate(["spec", "cookieSecret"]) },
  };
}
