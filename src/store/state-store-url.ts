/**
 * The state store's address (docs/shared-state.md): `redis://[user:pass@]host:port[/db]`,
 * `rediss://…` (TLS), or Redis Cluster as `redis+cluster://host:port[,host:port…]` (`rediss+cluster://`
 * for a cluster over TLS). Pure: no I/O, no defaults taken from the environment, so `validate` and
 * `run` refuse exactly the same URLs. Problems come back as the message part of a configuration
 * error line (the caller adds `FILE:LINE:COLUMN: KIND/NAME: FIELD.PATH:`).
 */
import { readFileSync } from "node:fs";

/** What every key and channel of one installation starts with, unless `keyPrefix` says otherwise. */
export const DEFAULT_KEY_PREFIX = "stickylb:";

export interface StoreNode {
  readonly host: string;
  readonly port: number;
}

export interface StateStoreTarget {
  readonly mode: "standalone" | "cluster";
  /** One node for standalone; the seed nodes of a cluster (the client discovers the rest). */
  readonly nodes: readonly StoreNode[];
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
  /** Logical database; always 0 for a cluster, which has only database 0. */
  readonly db: number;
}

export type ParsedStateStoreUrl =
  | { readonly ok: true; readonly target: StateStoreTarget }
  | { readonly ok: false; readonly message: string };

const ACCEPTED =
  "accepted: redis://[user:pass@]host:port[/db], rediss://[user:pass@]host:port[/db], redis+cluster://host:port[,host:port…]";

const SCHEMES: Record<string, { mode: "standalone" | "cluster"; tls: boolean }> = {
  "redis:": { mode: "standalone", tls: false },
  "rediss:": { mode: "standalone", tls: true },
  "redis+cluster:": { mode: "cluster", tls: false },
  "rediss+cluster:": { mode: "cluster", tls: true },
};

/** Never echo a password back into a log or an error line. */
export function redactStateStoreUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/)([^@/]*)@/i, (_m, scheme: string, auth: string) => {
    const colon = auth.indexOf(":");
    // A lone name before `@` is a password (see below), so it is hidden too.
    return colon < 0 ? `${scheme}***@` : `${scheme}${auth.slice(0, colon)}:***@`;
  });
}

export function parseStateStoreUrl(url: string): ParsedStateStoreUrl {
  const shown = JSON.stringify(redactStateStoreUrl(url));
  const fail = (why: string): ParsedStateStoreUrl => ({
    ok: false,
    message: `${shown} is not a valid state store URL: ${why} (${ACCEPTED})`,
  });
  const schemeEnd = url.indexOf("://");
  if (schemeEnd < 0) return fail("it has no scheme");
  const scheme = SCHEMES[`${url.slice(0, schemeEnd).toLowerCase()}:`];
  if (scheme === undefined) return fail(`the scheme "${url.slice(0, schemeEnd)}" is not supported`);
  let rest = url.slice(schemeEnd + 3);
  if (/[?#]/.test(rest)) return fail("query strings and fragments are not supported");

  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    const auth = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = auth.indexOf(":");
    try {
      const user = decodeURIComponent(colon < 0 ? auth : auth.slice(0, colon));
      if (user !== "") username = user;
      if (colon >= 0) password = decodeURIComponent(auth.slice(colon + 1));
    } catch {
      return fail("the user or password has a bad %-escape");
    }
    if (colon < 0 && username !== undefined) {
      // `redis://secret@host` is how Redis URLs carry a password without a user.
      password = username;
      username = undefined;
    }
  }

  let db = 0;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const path = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
    if (path !== "") {
      if (scheme.mode === "cluster") return fail("a Redis Cluster has only database 0, so no /db may follow");
      if (!/^\d{1,5}$/.test(path)) return fail(`the database "${path}" is not a number`);
      db = Number(path);
    }
  }

  const hosts = rest.split(",");
  if (scheme.mode === "standalone" && hosts.length > 1) {
    return fail("several hosts are only allowed with redis+cluster://");
  }
  const nodes: StoreNode[] = [];
  for (const hostPort of hosts) {
    const node = parseHostPort(hostPort);
    if (typeof node === "string") return fail(node);
    nodes.push(node);
  }
  const target: StateStoreTarget = {
    mode: scheme.mode,
    nodes,
    tls: scheme.tls,
    db,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  };
  return { ok: true, target };
}

function parseHostPort(text: string): StoreNode | string {
  if (text === "") return "a host:port is empty";
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") return `"${text}" needs the form [IPv6]:port`;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) return `"${text}" has no port`;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) return `"${text}": write an IPv6 address in brackets`;
  }
  if (host === "" || !/^[A-Za-z0-9._\-:%]+$/.test(host)) return `"${text}" has no valid host`;
  if (!/^\d{1,5}$/.test(portText)) return `the port "${portText}" of "${text}" is not a number`;
  const port = Number(portText);
  if (port < 1 || port > 65535) return `the port ${port} of "${text}" is out of range (1–65535)`;
  return { host, port };
}

/**
 * The password from `passwordFile` (control path, at start and reload): the file's text without a
 * trailing newline, which editors and `echo` add. Throws a message fit for a configuration error.
 */
export function readStorePasswordFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read the password file ${path}: ${(err as Error).message}`);
  }
  const password = text.replace(/\r?\n$/, "");
  if (password === "") throw new Error(`the password file ${path} is empty`);
  return password;
}
