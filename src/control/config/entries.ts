/**
 * Listeners and pools as the cross-document checks see them: the model plus the raw facts that
 * were valid (undefined where a field was bad, so one bad field causes no second, false error)
 * and where each field was written.
 */

import type { ListenerModel, PersistenceType, PoolModel, Protocol } from "../../core/model.js";
import type { ErrorCode } from "../../errors/codes.js";
import { ConfigError, type FieldPath, formatPath, type Position } from "./config-error.js";

/** Where an entry or one of its fields was written. */
export interface Origin {
  readonly file: string;
  readonly object: string;
  /** Field path inside the object, e.g. `spec.listeners[1].port`. */
  readonly path: string;
  readonly line: number;
  readonly column: number;
}

/** Finds a field of the entry, given relative to the entry (e.g. `["rules", 0, "pool"]`). */
export type Locate = (field: FieldPath) => Origin;

export interface ListenerEntry {
  readonly model: ListenerModel;
  readonly name: string | undefined;
  readonly protocol: Protocol | undefined;
  readonly address: string | undefined;
  readonly port: number | undefined;
  readonly defaultPool: string | undefined;
  /** `pool` of each rule, by rule index. */
  readonly rulePools: readonly (string | undefined)[];
  readonly at: Locate;
}

export interface PoolEntry {
  readonly model: PoolModel;
  readonly name: string | undefined;
  readonly persistence: PersistenceType | undefined;
  readonly at: Locate;
}

export function errorAt(code: ErrorCode, origin: Origin, message: string): ConfigError {
  return new ConfigError({ code, ...origin, message });
}

export const where = (origin: Origin): string => `${origin.file}:${origin.line}:${origin.column}`;

/** A locator for a field of a native document entry at `base`. */
export function nativeLocator(
  file: string,
  object: () => string,
  lineOf: (path: FieldPath) => Position,
  base: FieldPath,
): Locate {
  return (field) => {
    const full = [...base, ...field];
    return { file, object: object(), path: formatPath(full), ...lineOf(full) };
  };
}
