/** Problems of one Kubernetes object, each placed at the field that caused it (docs/reference/cli.md). */
import type { ErrorCode } from "../../errors/codes.js";
import { ConfigError, type FieldPath, formatPath } from "../config/index.js";
import { type KubeObject, objectKey } from "./objects.js";

export class ObjectReport {
  readonly key: string;

  /**
   * `errors` and `warnings` may be another report's lists: a problem in a Service's annotations
   * found while converting an Ingress names the Service but belongs to the Ingress's result.
   */
  constructor(
    readonly object: KubeObject,
    readonly errors: ConfigError[] = [],
    readonly warnings: ConfigError[] = [],
  ) {
    this.key = objectKey(object);
  }

  /** A report about `other` whose problems land in this report's lists. */
  about(other: KubeObject): ObjectReport {
    return other === this.object ? this : new ObjectReport(other, this.errors, this.warnings);
  }

  make(code: ErrorCode, path: FieldPath, message: string): ConfigError {
    return new ConfigError({
      code,
      file: this.object.file,
      ...this.object.lineOf(path),
      object: this.key,
      path: formatPath(path),
      message,
    });
  }

  /** A problem found once per port (or per backend) is still reported once. */
  error(path: FieldPath, message: string, code: ErrorCode = "SLB_ERR_K8S_OBJECT"): void {
    pushOnce(this.errors, this.make(code, path, message));
  }

  warn(path: FieldPath, message: string, code: ErrorCode = "SLB_ERR_K8S_OBJECT"): void {
    pushOnce(this.warnings, this.make(code, path, message));
  }
}

function pushOnce(list: ConfigError[], problem: ConfigError): void {
  const line = problem.format();
  if (!list.some((p) => p.format() === line)) list.push(problem);
}
