/**
 * A configuration problem with its place: docs/reference/cli.md's one-line form
 * `FILE:LINE:COLUMN: KIND/NAME: FIELD.PATH: message`.
 */
import type { ErrorCode } from "../../errors/codes.js";

export type PathSegment = string | number;
export type FieldPath = readonly PathSegment[];

/** 1-based line and column. */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** What a `ConfigError` is made from: its fields, without the methods. */
export type ConfigErrorInit = Omit<ConfigError, "format">;

export class ConfigError {
  readonly code: ErrorCode;
  /** As given on the command line, or the folder joined with the file name. */
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** `KIND/NAME` or `KIND/NAMESPACE/NAME`; empty when the problem is not inside an object. */
  readonly object: string;
  /** `spec.pools[0].members[1].weight`; empty when the problem is the whole document or file. */
  readonly path: string;
  /** Names the bad value and what is accepted. */
  readonly message: string;

  constructor(init: ConfigErrorInit) {
    this.code = init.code;
    this.file = init.file;
    this.line = init.line;
    this.column = init.column;
    this.object = init.object;
    this.path = init.path;
    this.message = init.message;
  }

  /** The one-line form; an empty object or path is left out rather than printed empty. */
  format(): string {
    const parts = [`${this.file}:${this.line}:${this.column}`];
    if (this.object !== "") parts.push(this.object);
    if (this.path !== "") parts.push(this.path);
    parts.push(this.message);
    return parts.join(": ");
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `["spec", "pools", 0, "name"]` → `spec.pools[0].name`; keys that are not identifiers are
 * bracketed and quoted, as in `metadata.annotations["kubernetes.io/elb.port"]`.
 */
export function formatPath(path: FieldPath): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Sort key order for reports: files in load order, then line, then column. */
export function compareErrors(fileOrder: ReadonlyMap<string, number>) {
  return (a: ConfigError, b: ConfigError): number =>
    (fileOrder.get(a.file) ?? Number.MAX_SAFE_INTEGER) - (fileOrder.get(b.file) ?? Number.MAX_SAFE_INTEGER) ||
    a.line - b.line ||
    a.column - b.column;
}
