/**
 * Small readers for validating plain YAML values field by field. Each reader reports its own
 * problem (with the value and what is accepted) and returns undefined, so a validator goes on
 * and every problem of a document is reported, not only the first.
 */
import { isIP } from "node:net";
import type { ErrorCode } from "../../errors/codes.js";
import { ConfigError, type FieldPath, formatPath, type Position } from "./config-error.js";
import { formatDuration, parseDuration } from "./duration.js";

export type Obj = Record<string, unknown>;

/** Where a validator reports to: one object (`KIND/NAME`) of one file. */
export class Reporter {
  constructor(
    readonly file: string,
    public object: string,
    /** Positions of the object; paths are relative to the object. */
    readonly lineOf: (path: FieldPath) => Position,
    readonly errors: ConfigError[],
    readonly warnings: ConfigError[],
  ) {}

  make(code: ErrorCode, path: FieldPath, message: string): ConfigError {
    return new ConfigError({
      code,
      file: this.file,
      ...this.lineOf(path),
      object: this.object,
      path: formatPath(path),
      message,
    });
  }

  error(path: FieldPath, message: string, code: ErrorCode = "SLB_ERR_CONFIG_INVALID"): void {
    this.errors.push(this.make(code, path, message));
  }

  warn(path: FieldPath, message: string, code: ErrorCode = "SLB_ERR_CONFIG_INVALID"): void {
    this.warnings.push(this.make(code, path, message));
  }
}

/** A value as the message shows it: strings quoted, collections named. */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "a list";
  if (value !== null && typeof value === "object") return "a mapping";
  return String(value);
}

export function isObj(value: unknown): value is Obj {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export const isPresent = (obj: Obj, key: string): boolean => obj[key] !== undefined && obj[key] !== null;

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function suggestion(key: string, accepted: readonly string[]): string {
  const lower = key.toLowerCase();
  const close = accepted.find((name) => name.toLowerCase() === lower || editDistance(name, key) <= 2);
  return close === undefined ? "" : ` (did you mean ${close}?)`;
}

/**
 * The value at `path` as a mapping whose keys are all in `accepted`; each unknown key is an
 * error at that key (typos are the usual cause, so a close accepted name is suggested).
 */
export function readMap(
  r: Reporter,
  path: FieldPath,
  value: unknown,
  accepted: readonly string[],
): Obj | undefined {
  if (!isObj(value)) {
    r.error(path, `${show(value)} is not valid (a mapping with the fields ${accepted.join(", ")})`);
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (!accepted.includes(key)) {
      r.error(
        [...path, key],
        `unknown field${suggestion(key, accepted)}; accepted fields: ${accepted.join(", ")}`,
        "SLB_ERR_CONFIG_UNKNOWN_FIELD",
      );
    }
  }
  return value;
}

/** The list at `path`, or undefined (reported) when it is something else. */
export function readList(
  r: Reporter,
  path: FieldPath,
  value: unknown,
  describe: string,
): unknown[] | undefined {
  if (Array.isArray(value)) return value;
  r.error(path, `${show(value)} is not valid (a list of ${describe})`);
  return undefined;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/** A type of field value: what it accepts, in words, and how to check one. */
export interface FieldKind<T> {
  readonly describe: string;
  check(value: unknown): Checked<T>;
}

export const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
export const bad = <T>(message: string): Checked<T> => ({ ok: false, message });

/**
 * Reads an optional field: absent (or null) gives `fallback`, a bad value is reported and
 * gives undefined.
 */
export function optional<T>(
  r: Reporter,
  obj: Obj,
  path: FieldPath,
  key: string,
  kind: FieldKind<T>,
  fallback?: T,
): T | undefined {
  if (!isPresent(obj, key)) return fallback;
  const checked = kind.check(obj[key]);
  if (checked.ok) return checked.value;
  r.error([...path, key], checked.message);
  return undefined;
}

/** Reads a required field: absent is reported at the object that lacks it. */
export function required<T>(
  r: Reporter,
  obj: Obj,
  path: FieldPath,
  key: string,
  kind: FieldKind<T>,
): T | undefined {
  if (!isPresent(obj, key)) {
    r.error([...path, key], `a required field is missing (${kind.describe})`);
    return undefined;
  }
  return optional(r, obj, path, key, kind);
}

export function integer(min: number, max?: number): FieldKind<number> {
  const describe = max === undefined ? `an integer of at least ${min}` : `an integer ${min}–${max}`;
  return {
    describe,
    check(value) {
      if (typeof value !== "number" || !Number.isInteger(value))
        return bad(`${show(value)} is not valid (${describe})`);
      if (value < min || (max !== undefined && value > max))
        return bad(`${value} is out of range (${describe})`);
      return ok(value);
    },
  };
}

export const port: FieldKind<number> = integer(1, 65535);

export const boolean: FieldKind<boolean> = {
  describe: "true or false",
  check: (value) =>
    typeof value === "boolean" ? ok(value) : bad(`${show(value)} is not valid (true or false)`),
};

export function oneOf<T extends string>(values: readonly T[]): FieldKind<T> {
  const describe = `one of ${values.join(", ")}`;
  return {
    describe,
    check: (value) =>
      typeof value === "string" && (values as readonly string[]).includes(value)
        ? ok(value as T)
        : bad(`${show(value)} is not valid (${describe})`),
  };
}

/** A duration string (see duration.ts) in `[minMs, maxMs]`, read as milliseconds. */
export function duration(minMs: number, maxMs: number): FieldKind<number> {
  const range = `from ${formatDuration(minMs)} to ${formatDuration(maxMs)}`;
  const describe = `a duration ${range}, like 250ms, 2s, 30m or 1h30m`;
  return {
    describe,
    check(value) {
      const ms = typeof value === "string" ? parseDuration(value) : undefined;
      if (ms === undefined) {
        return bad(
          `${show(value)} is not a duration (whole numbers with units d, h, m, s, ms in that order, like 250ms, 2s, 30m or 1h30m)`,
        );
      }
      if (ms < minMs || ms > maxMs) return bad(`${show(value)} is out of range (${range})`);
      return ok(ms);
    },
  };
}

/** A string that `test` accepts; `test` returns a reason to refuse, or undefined. */
export function text(
  describe: string,
  test: (value: string) => string | undefined = () => undefined,
): FieldKind<string> {
  return {
    describe,
    check(value) {
      if (typeof value !== "string") return bad(`${show(value)} is not valid (${describe})`);
      const reason = test(value);
      return reason === undefined ? ok(value) : bad(`${show(value)} ${reason} (${describe})`);
    },
  };
}

export const ipAddress: FieldKind<string> = text("an IPv4 or IPv6 address, like 127.0.0.1 or ::1", (value) =>
  isIP(value) === 0 ? "is not an IP address" : undefined,
);

const NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$/;
/** Names of objects, listeners and pools: they become metric labels and log fields. */
export const name: FieldKind<string> = text(
  "a name of 1–63 letters, digits, '-', '_' or '.', starting with a letter or digit",
  (value) => (NAME.test(value) ? undefined : "is not a valid name"),
);
