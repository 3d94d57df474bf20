/**
 * Session affinity annotations (docs/reference/annotations.md) → the model's SessionPersistence.
 *
 * Reading is split from resolving because an Ingress backend takes the Ingress's affinity
 * annotations overridden field by field by the Service's: the mode, and each key of the option
 * JSON, comes from whichever object sets it last, and a problem is reported where it was written.
 */
import type { Algorithm, SessionPersistence } from "../../core/model.js";
import { DEFAULT_HTTP_COOKIE_NAME, DEFAULT_MAX_BINDINGS } from "../../core/model.js";
import { DEFAULT_COOKIE } from "../config/index.js";
import {
  ANNOTATION,
  type Place,
  rawAnnotation,
  readEnum,
  readInteger,
  readJsonObject,
  refuse,
  show,
} from "./annotations.js";
import type { ObjectReport } from "./report.js";

const MODES = ["SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE"] as const;
/** The persistence types a CCE annotation can name (header persistence has no CCE annotation). */
export type CceMode = (typeof MODES)[number];
const OPTION_EXAMPLE = 'an object like {"persistence_timeout": "30"} or {"app_cookie_name": "name"}';
const KNOWN_KEYS = ["persistence_timeout", "app_cookie_name"];

/** Minutes (docs/reference/annotations.md): SOURCE_IP 1–60, default 60; cookies 1–1440, default 1440. */
const TIMEOUT_RANGE: Readonly<Record<CceMode, { max: number; fallback: number }>> = {
  SOURCE_IP: { max: 60, fallback: 60 },
  HTTP_COOKIE: { max: 1440, fallback: 1440 },
  APP_COOKIE: { max: 1440, fallback: 1440 },
};
const APP_COOKIE_NAME = /^[A-Za-z0-9._-]{1,255}$/;

export interface Located<T> {
  readonly value: T;
  readonly at: Place;
}

/** The affinity annotations of one object, or of an Ingress overlaid by its backend Service. */
export interface AffinitySource {
  readonly mode?: Located<CceMode>;
  readonly modeAt?: Place;
  readonly options: ReadonlyMap<string, Located<unknown>>;
  /** Where the option annotation was written, if it was. */
  readonly optionAt?: Place;
  /** A mode or option annotation was present but unreadable: the object is in error already. */
  readonly broken: boolean;
}

export function readAffinity(report: ObjectReport): AffinitySource {
  let broken = false;
  const rawMode = rawAnnotation(report, ANNOTATION.affinityMode);
  const mode = rawMode === undefined ? undefined : readEnum(rawMode, MODES);
  if (rawMode !== undefined && mode === undefined) broken = true;
  const options = new Map<string, Located<unknown>>();
  const rawOption = rawAnnotation(report, ANNOTATION.affinityOption);
  if (rawOption !== undefined) {
    const parsed = readJsonObject(rawOption, OPTION_EXAMPLE);
    if (parsed === undefined) broken = true;
    for (const [key, value] of Object.entries(parsed ?? {})) options.set(key, { value, at: rawOption.at });
  }
  return {
    ...(mode === undefined || rawMode === undefined ? {} : { mode: { value: mode, at: rawMode.at } }),
    ...(rawMode === undefined ? {} : { modeAt: rawMode.at }),
    options,
    ...(rawOption === undefined ? {} : { optionAt: rawOption.at }),
    broken,
  };
}

/** The Ingress's affinity with the Service's written over it, field by field (docs/reference/annotations.md). */
export function overlay(ingress: AffinitySource, service: AffinitySource): AffinitySource {
  const mode = service.mode ?? (service.modeAt === undefined ? ingress.mode : undefined);
  const modeAt = service.modeAt ?? ingress.modeAt;
  const optionAt = service.optionAt ?? ingress.optionAt;
  return {
    ...(mode === undefined ? {} : { mode }),
    ...(modeAt === undefined ? {} : { modeAt }),
    options: new Map([...ingress.options, ...service.options]),
    ...(optionAt === undefined ? {} : { optionAt }),
    broken: ingress.broken || service.broken,
  };
}

export interface PoolFacts {
  /** The protocol that the pool's clients speak to stickylb: L4 pools are TCP/UDP, L7 pools HTTP. */
  readonly layer: "L4" | "L7";
  /** E.g. `TCP port 80`, `the Ingress backend nginx:80`, for messages. */
  readonly describe: string;
  readonly algorithm: Algorithm;
}

/**
 * Resolves the session persistence of one pool; undefined when there is none or when a problem
 * was reported.
 */
export function resolvePersistence(source: AffinitySource, facts: PoolFacts): SessionPersistence | undefined {
  const mode = source.mode;
  if (mode === undefined) {
    if (source.modeAt === undefined && source.optionAt !== undefined)
      source.optionAt.report.warn(
        source.optionAt.path,
        `has no effect without ${ANNOTATION.affinityMode}; ignored`,
        "SLB_ERR_K8S_NO_EFFECT",
      );
    return undefined;
  }
  const type = mode.value;
  let ok = true;
  if (facts.algorithm === "SOURCE_IP") {
    refuse(
      mode.at,
      `${show(type)} session affinity is not allowed with ${ANNOTATION.lbAlgorithm} "SOURCE_IP"` +
        " (the hash already keeps each client on its member); use ROUND_ROBIN or LEAST_CONNECTIONS, or remove the session affinity",
    );
    ok = false;
  }
  const fits = facts.layer === "L4" ? type === "SOURCE_IP" : type !== "SOURCE_IP";
  if (!fits) {
    refuse(
      mode.at,
      facts.layer === "L4"
        ? `${show(type)} does not fit ${facts.describe} (a TCP or UDP port takes SOURCE_IP; HTTP_COOKIE and APP_COOKIE need HTTP, through ${ANNOTATION.protocolPort} or an Ingress)`
        : `${show(type)} does not fit ${facts.describe} (HTTP pools take HTTP_COOKIE or APP_COOKIE; SOURCE_IP is for TCP and UDP ports)`,
    );
    ok = false;
  }

  const range = TIMEOUT_RANGE[type];
  let minutes: number | undefined = range.fallback;
  let cookieName = type === "HTTP_COOKIE" ? DEFAULT_HTTP_COOKIE_NAME : "";
  for (const [key, option] of source.options) {
    if (key === "persistence_timeout") {
      minutes = readInteger(option.at, option.value, 1, range.max, `minutes for ${type}`, key);
      if (minutes === undefined) ok = false;
    } else if (key === "app_cookie_name") {
      if (type !== "APP_COOKIE") {
        option.at.report.warn(
          option.at.path,
          `app_cookie_name does not apply to ${type} (only APP_COOKIE reads it); ignored`,
          "SLB_ERR_K8S_NO_EFFECT",
        );
        continue;
      }
      if (typeof option.value !== "string" || !APP_COOKIE_NAME.test(option.value)) {
        refuse(
          option.at,
          `app_cookie_name ${show(option.value)} is not valid (a cookie name of 1–255 letters, digits, '-', '_' or '.')`,
        );
        ok = false;
      } else cookieName = option.value;
    } else {
      option.at.report.warn(
        option.at.path,
        `${JSON.stringify(key)} is not a key stickylb reads (${KNOWN_KEYS.join(", ")}); ignored`,
        "SLB_ERR_K8S_NO_EFFECT",
      );
    }
  }
  if (type === "APP_COOKIE" && !source.options.has("app_cookie_name")) {
    refuse(
      mode.at,
      `"APP_COOKIE" needs app_cookie_name in ${ANNOTATION.affinityOption} (e.g. {"app_cookie_name": "JSESSIONID"})`,
    );
    ok = false;
  }
  if (!ok || minutes === undefined) return undefined;
  return {
    type,
    persistenceTimeoutMs: minutes * 60_000,
    cookieName,
    cookie: DEFAULT_COOKIE,
    maxBindings: DEFAULT_MAX_BINDINGS,
  };
}
