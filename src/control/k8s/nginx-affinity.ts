/**
 * ingress-nginx's cookie affinity annotations on an Ingress → HTTP_COOKIE persistence, so that
 * Ingresses written for ingress-nginx keep their sticky sessions when stickylb takes them over
 * (docs/migration.md). Every other `nginx.ingress.kubernetes.io/*` annotation is reported once as
 * not honoured: a migration that silently drops rewrite rules or auth would look like it worked.
 */
import type { CookieAttributes, SameSite, SecureMode, SessionPersistence } from "../../core/model.js";
import { DEFAULT_HTTP_COOKIE_NAME, DEFAULT_MAX_BINDINGS } from "../../core/model.js";
import { DEFAULT_COOKIE } from "../config/index.js";
import {
  type Place,
  type RawAnnotation,
  rawAnnotation,
  readEnum,
  readInteger,
  refuse,
  show,
} from "./annotations.js";
import { annotationPath, annotationsOf } from "./objects.js";
import type { ObjectReport } from "./report.js";

const PREFIX = "nginx.ingress.kubernetes.io/";

export const NGINX_ANNOTATION = {
  affinity: `${PREFIX}affinity`,
  affinityMode: `${PREFIX}affinity-mode`,
  cookieName: `${PREFIX}session-cookie-name`,
  cookieMaxAge: `${PREFIX}session-cookie-max-age`,
  cookieExpires: `${PREFIX}session-cookie-expires`,
  cookiePath: `${PREFIX}session-cookie-path`,
  cookieSameSite: `${PREFIX}session-cookie-samesite`,
  cookieSecure: `${PREFIX}session-cookie-secure`,
} as const;

const HONOURED: readonly string[] = Object.values(NGINX_ANNOTATION);

/** ingress-nginx's default when neither max-age nor expires is set is a browser-session cookie; the server side still lets a binding lapse after a day idle. */
const SESSION_COOKIE_IDLE_MS = 1_440 * 60_000;
/** The longest persistenceTimeout the model takes (7 days), in seconds. */
const MAX_SECONDS = 7 * 86_400;
/** RFC 6265 cookie-name token characters. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,255}$/;

export interface NginxAffinity {
  /** Where `nginx.ingress.kubernetes.io/affinity` was written. */
  readonly at: Place;
  /** Undefined when a value was refused (the object is in error). */
  readonly persistence?: SessionPersistence;
}

/**
 * Reads the ingress-nginx affinity of an Ingress; undefined when `affinity` is not set (then the
 * other session-cookie annotations are reported as having no effect).
 */
export function readNginxAffinity(report: ObjectReport): NginxAffinity | undefined {
  const affinity = rawAnnotation(report, NGINX_ANNOTATION.affinity);
  const companions = HONOURED.filter((n) => n !== NGINX_ANNOTATION.affinity);
  if (affinity === undefined) {
    for (const name of companions)
      if (annotationsOf(report.object)[name] !== undefined)
        report.warn(
          annotationPath(name),
          `has no effect without ${NGINX_ANNOTATION.affinity}: "cookie"; ignored`,
          "SLB_ERR_K8S_NO_EFFECT",
        );
    return undefined;
  }
  let ok = readEnum(affinity, ["cookie"]) !== undefined;

  const mode = rawAnnotation(report, NGINX_ANNOTATION.affinityMode);
  if (mode !== undefined) {
    const value = readEnum(mode, ["persistent", "balanced"]);
    if (value === undefined) ok = false;
    if (value === "balanced")
      report.warn(
        mode.at.path,
        '"balanced" is served as "persistent": stickylb never moves a bound client to rebalance; it keeps it on its member while that member is eligible',
        "SLB_ERR_K8S_NO_EFFECT",
      );
  }

  const name = readCookieName(rawAnnotation(report, NGINX_ANNOTATION.cookieName));
  const maxAge = readSeconds(rawAnnotation(report, NGINX_ANNOTATION.cookieMaxAge));
  const expiresRaw = rawAnnotation(report, NGINX_ANNOTATION.cookieExpires);
  const expires = readSeconds(expiresRaw);
  if (maxAge !== undefined && expiresRaw !== undefined)
    report.warn(
      expiresRaw.at.path,
      `${NGINX_ANNOTATION.cookieMaxAge} is also set and wins (as in ingress-nginx); ignored`,
      "SLB_ERR_K8S_NO_EFFECT",
    );
  const seconds = maxAge ?? expires;
  const path = readCookiePath(rawAnnotation(report, NGINX_ANNOTATION.cookiePath));
  const sameSiteRaw = rawAnnotation(report, NGINX_ANNOTATION.cookieSameSite);
  const sameSite =
    sameSiteRaw === undefined ? undefined : readEnum<SameSite>(sameSiteRaw, ["None", "Lax", "Strict"]);
  const secureRaw = rawAnnotation(report, NGINX_ANNOTATION.cookieSecure);
  const secureWord = secureRaw === undefined ? undefined : readEnum(secureRaw, ["true", "false"]);
  // "true" forces Secure; "false" leaves it to the connection, which is stickylb's `auto`.
  const secure: SecureMode | undefined =
    secureWord === undefined ? undefined : secureWord === "true" ? "always" : "auto";

  const refused =
    name === null ||
    seconds === null ||
    path === null ||
    (sameSiteRaw !== undefined && sameSite === undefined) ||
    (secureRaw !== undefined && secureWord === undefined);
  if (!ok || refused) return { at: affinity.at };

  const cookie: CookieAttributes = {
    ...DEFAULT_COOKIE,
    ...(path === undefined ? {} : { path }),
    ...(sameSite === undefined ? {} : { sameSite }),
    ...(secure === undefined ? {} : { secure }),
    ...(seconds === undefined ? { maxAge: "session" as const } : {}),
  };
  return {
    at: affinity.at,
    persistence: {
      type: "HTTP_COOKIE",
      persistenceTimeoutMs: seconds === undefined ? SESSION_COOKIE_IDLE_MS : seconds * 1000,
      cookieName: name ?? DEFAULT_HTTP_COOKIE_NAME,
      cookie,
      maxBindings: DEFAULT_MAX_BINDINGS,
    },
  };
}

/** Undefined: absent; null: refused (reported). */
function readSeconds(raw: RawAnnotation | undefined): number | undefined | null {
  if (raw === undefined) return undefined;
  return readInteger(raw.at, raw.value, 1, MAX_SECONDS, "seconds") ?? null;
}

function readCookieName(raw: RawAnnotation | undefined): string | undefined | null {
  if (raw === undefined) return undefined;
  if (COOKIE_NAME.test(raw.value)) return raw.value;
  refuse(
    raw.at,
    `${show(raw.value)} is not a valid cookie name (1–255 letters, digits and !#$%&'*+-.^_\`|~)`,
  );
  return null;
}

function readCookiePath(raw: RawAnnotation | undefined): string | undefined | null {
  if (raw === undefined) return undefined;
  if (raw.value.startsWith("/") && !/[\s;,]/.test(raw.value)) return raw.value;
  refuse(raw.at, `${show(raw.value)} is not valid (a path starting with /, without spaces, ';' or ',')`);
  return null;
}

/** Warns about each `nginx.ingress.kubernetes.io/*` annotation that stickylb does not honour. */
export function checkNginxAnnotationNames(report: ObjectReport): void {
  for (const name of Object.keys(annotationsOf(report.object))) {
    if (!name.startsWith(PREFIX) || HONOURED.includes(name)) continue;
    report.warn(
      annotationPath(name),
      "is an ingress-nginx annotation that stickylb does not honour; ignored (see docs/migration.md)",
      "SLB_ERR_K8S_NO_EFFECT",
    );
  }
}
