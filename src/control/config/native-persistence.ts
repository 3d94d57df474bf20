/**
 * Validation of a pool's `sessionPersistence` (docs/configuration.md, docs/affinity.md): the
 * persistence type, its timeouts, the cookie or header that carries the session, the inserted
 * cookie's attributes and the binding table's bound; and the defaults they take.
 */
import type { Algorithm, CookieAttributes, PersistenceType, SessionPersistence } from "../../core/model.js";
import { DEFAULT_HTTP_COOKIE_NAME, DEFAULT_MAX_BINDINGS, MAX_ABSOLUTE_TIMEOUT_MS } from "../../core/model.js";
import type { FieldPath } from "./config-error.js";
import { formatDuration } from "./duration.js";
import {
  boolean,
  duration,
  integer,
  isPresent,
  oneOf,
  optional,
  type Reporter,
  readMap,
  required,
  text,
} from "./fields.js";

const PERSISTENCE_FIELDS = [
  "type",
  "persistenceTimeout",
  "absoluteTimeout",
  "cookieName",
  "headerName",
  "cookie",
  "maxBindings",
];
const COOKIE_FIELDS = ["path", "domain", "sameSite", "secure", "httpOnly", "maxAge"];
const PERSISTENCE_TYPES = ["SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE", "HTTP_HEADER"] as const;

const MINUTE = 60_000;
const DAY = 1_440 * MINUTE;
/** Defaults match the Kubernetes annotation defaults of docs/reference/annotations.md: 60 min and 1440 min. */
export const DEFAULT_PERSISTENCE_TIMEOUT_MS: Readonly<Record<PersistenceType, number>> = {
  SOURCE_IP: 60 * MINUTE,
  HTTP_COOKIE: 1_440 * MINUTE,
  APP_COOKIE: 1_440 * MINUTE,
  HTTP_HEADER: 1_440 * MINUTE,
};
export const DEFAULT_COOKIE: CookieAttributes = {
  path: "/",
  domain: "",
  sameSite: "Lax",
  secure: "auto",
  httpOnly: true,
};

const maxBindings = integer(1);

/** RFC 6265 cookie-name = token (RFC 7230): visible ASCII but separators; 255 at most, as CCE allows. */
const cookieToken = text("a cookie name: 1–255 letters, digits or !#$%&'*+-.^_`|~", (value) =>
  /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,255}$/.test(value) ? undefined : "is not a valid cookie name",
);
/**
 * Headers that cannot carry a session token: hop-by-hop headers (RFC 9110 §7.6.1) never reach the
 * member or come back, framing headers (Content-Length, Transfer-Encoding, Host) decide how a
 * message is read and routed, Cookie and Set-Cookie belong to cookies, and stickylb writes the
 * X-Forwarded-* headers itself.
 */
const RESERVED_HEADERS = new Set(
  [
    "Connection",
    "Keep-Alive",
    "Proxy-Connection",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "TE",
    "Trailer",
    "Transfer-Encoding",
    "Upgrade",
    "Content-Length",
    "Host",
    "Cookie",
    "Set-Cookie",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Port",
  ].map((h) => h.toLowerCase()),
);
/** RFC 9110 field-name = token; 100 characters is far beyond any real header name. */
const headerName = text(
  "a header name: 1–100 letters, digits or !#$%&'*+-.^_`|~, like X-Session",
  (value) => {
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$/.test(value)) return "is not a valid header name";
    return RESERVED_HEADERS.has(value.toLowerCase())
      ? "cannot carry the session token (a hop-by-hop, framing, cookie or X-Forwarded header)"
      : undefined;
  },
);
const cookiePath = text("a path starting with /, without ';' or control characters", (value) =>
  value.startsWith("/") && !/[;\p{Cc}]/u.test(value) ? undefined : "is not a valid cookie path",
);
const DOMAIN = /^\.?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const cookieDomain = text('a domain name like example.com, or "" for none', (value) =>
  value === "" || DOMAIN.test(value) ? undefined : "is not a valid cookie domain",
);

function readCookie(r: Reporter, path: FieldPath, value: unknown): CookieAttributes {
  const obj = readMap(r, path, value, COOKIE_FIELDS);
  if (obj === undefined) return DEFAULT_COOKIE;
  const cookie: CookieAttributes = {
    path: optional(r, obj, path, "path", cookiePath, DEFAULT_COOKIE.path) ?? DEFAULT_COOKIE.path,
    domain: optional(r, obj, path, "domain", cookieDomain, DEFAULT_COOKIE.domain) ?? DEFAULT_COOKIE.domain,
    sameSite:
      optional(
        r,
        obj,
        path,
        "sameSite",
        oneOf(["Strict", "Lax", "None"] as const),
        DEFAULT_COOKIE.sameSite,
      ) ?? DEFAULT_COOKIE.sameSite,
    secure:
      optional(r, obj, path, "secure", oneOf(["auto", "always", "never"] as const), DEFAULT_COOKIE.secure) ??
      DEFAULT_COOKIE.secure,
    httpOnly: optional(r, obj, path, "httpOnly", boolean, DEFAULT_COOKIE.httpOnly) ?? DEFAULT_COOKIE.httpOnly,
    ...(optional(r, obj, path, "maxAge", oneOf(["session"] as const)) === "session"
      ? { maxAge: "session" as const }
      : {}),
  };
  // Browsers drop a SameSite=None cookie that is not Secure, so stickiness would silently fail.
  if (cookie.sameSite === "None" && cookie.secure === "never") {
    r.error(
      [...path, "sameSite"],
      '"None" needs secure auto or always (browsers refuse SameSite=None without Secure)',
    );
  }
  return cookie;
}

export function readPersistence(
  r: Reporter,
  path: FieldPath,
  value: unknown,
  algorithm: Algorithm | undefined,
): { model: SessionPersistence; type: PersistenceType | undefined } | undefined {
  if (algorithm === "SOURCE_IP") {
    r.error(
      path,
      "not allowed with algorithm SOURCE_IP (the hash already keeps each client on its member); " +
        "use ROUND_ROBIN or LEAST_CONNECTIONS, or remove sessionPersistence",
    );
  }
  const obj = readMap(r, path, value, PERSISTENCE_FIELDS);
  if (obj === undefined) return undefined;
  const type = required(r, obj, path, "type", oneOf(PERSISTENCE_TYPES));
  const timeoutDefault = DEFAULT_PERSISTENCE_TIMEOUT_MS[type ?? "SOURCE_IP"];
  const persistenceTimeoutMs =
    optional(r, obj, path, "persistenceTimeout", duration(1_000, 7 * DAY), timeoutDefault) ?? timeoutDefault;

  let cookieName = "";
  if (type === "APP_COOKIE") cookieName = required(r, obj, path, "cookieName", cookieToken) ?? "";
  else if (type === "HTTP_COOKIE")
    cookieName = optional(r, obj, path, "cookieName", cookieToken, DEFAULT_HTTP_COOKIE_NAME) ?? "";
  else if (type !== undefined && isPresent(obj, "cookieName"))
    r.error(
      [...path, "cookieName"],
      `only HTTP_COOKIE and APP_COOKIE take cookieName (this type is ${type})`,
    );

  let header: string | undefined;
  if (type === "HTTP_HEADER") header = required(r, obj, path, "headerName", headerName);
  else if (type !== undefined && isPresent(obj, "headerName"))
    r.error([...path, "headerName"], `only HTTP_HEADER takes headerName (this type is ${type})`);

  const absoluteTimeoutMs = readAbsoluteTimeout(r, path, obj, type, persistenceTimeoutMs);

  let cookie = DEFAULT_COOKIE;
  if (isPresent(obj, "cookie")) {
    if (type === "HTTP_COOKIE" || type === undefined) cookie = readCookie(r, [...path, "cookie"], obj.cookie);
    else r.error([...path, "cookie"], `only HTTP_COOKIE takes cookie attributes (this type is ${type})`);
  }

  let bindings = DEFAULT_MAX_BINDINGS;
  if (isPresent(obj, "maxBindings")) {
    // HTTP_COOKIE and HTTP_HEADER keep no table: the token itself carries the binding.
    if (type === "HTTP_COOKIE" || type === "HTTP_HEADER")
      r.error(
        [...path, "maxBindings"],
        `only SOURCE_IP and APP_COOKIE keep a binding table (this type is ${type})`,
      );
    else bindings = optional(r, obj, path, "maxBindings", maxBindings) ?? DEFAULT_MAX_BINDINGS;
  }
  return {
    type,
    model: {
      type: type ?? "SOURCE_IP",
      persistenceTimeoutMs,
      ...(absoluteTimeoutMs === undefined ? {} : { absoluteTimeoutMs }),
      cookieName,
      ...(header === undefined ? {} : { headerName: header }),
      cookie,
      maxBindings: bindings,
    },
  };
}

/**
 * `absoluteTimeout`: only where a token carries the session start (HTTP_COOKIE, HTTP_HEADER), and
 * no shorter than `persistenceTimeout` (the idle timeout would never matter, a sign of a mix-up).
 */
function readAbsoluteTimeout(
  r: Reporter,
  path: FieldPath,
  obj: Record<string, unknown>,
  type: PersistenceType | undefined,
  persistenceTimeoutMs: number,
): number | undefined {
  if (!isPresent(obj, "absoluteTimeout")) return undefined;
  if (type !== undefined && type !== "HTTP_COOKIE" && type !== "HTTP_HEADER") {
    r.error(
      [...path, "absoluteTimeout"],
      `only HTTP_COOKIE and HTTP_HEADER take absoluteTimeout (this type is ${type})`,
    );
    return undefined;
  }
  const absolute = optional(r, obj, path, "absoluteTimeout", duration(1_000, MAX_ABSOLUTE_TIMEOUT_MS));
  if (absolute !== undefined && absolute < persistenceTimeoutMs) {
    r.error(
      [...path, "absoluteTimeout"],
      `${formatDuration(absolute)} is shorter than persistenceTimeout ${formatDuration(persistenceTimeoutMs)}; ` +
        "absoluteTimeout must be at least persistenceTimeout",
    );
    return undefined;
  }
  return absolute;
}
