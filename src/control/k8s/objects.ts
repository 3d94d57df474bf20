/**
 * Kubernetes objects as the converter reads them: the plain object, its kind, and where its
 * fields were written (a file position, or nowhere in controller mode).
 */
import type { FieldPath, KubeObjectDoc, KubernetesKind, Position } from "../config/index.js";

export type Obj = Record<string, unknown>;

export interface KubeObject {
  readonly kind: KubernetesKind;
  readonly doc: Obj;
  /** The file it was read from, or `kubernetes` for objects watched in a cluster. */
  readonly file: string;
  lineOf(path: FieldPath): Position;
}

/** The `file` of objects that come from the API server. */
export const CLUSTER_SOURCE = "kubernetes";

const NOWHERE: Position = { line: 1, column: 1 };

export function fromDocument(doc: KubeObjectDoc): KubeObject {
  return { kind: doc.kind, doc: doc.doc, file: doc.file, lineOf: (path) => doc.lineOf(path) };
}

/** An object from the API server; list items carry no `kind`, so the informer says what it holds. */
export function fromCluster(kind: KubernetesKind, doc: Obj): KubeObject {
  return { kind, doc, file: CLUSTER_SOURCE, lineOf: () => NOWHERE };
}

export const isObj = (value: unknown): value is Obj =>
  value !== null && typeof value === "object" && !Array.isArray(value);

export const asObj = (value: unknown): Obj => (isObj(value) ? value : {});
export const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

export function metadata(object: KubeObject): Obj {
  return asObj(object.doc.metadata);
}

/** kubectl's rule: an object written without a namespace is in `default`. */
export function namespaceOf(object: KubeObject): string {
  const ns = metadata(object).namespace;
  return typeof ns === "string" && ns !== "" ? ns : "default";
}

export function nameOf(object: KubeObject): string | undefined {
  const name = metadata(object).name;
  return typeof name === "string" && name !== "" ? name : undefined;
}

/** Kinds without a namespace, written `KIND/NAME`. */
const CLUSTER_SCOPED: readonly KubernetesKind[] = ["IngressClass", "GatewayClass"];

/** `KIND/NAMESPACE/NAME` as a namespaced object is written; `KIND/NAME` for cluster-scoped kinds. */
export function objectKey(object: KubeObject): string {
  if (CLUSTER_SCOPED.includes(object.kind)) return `${object.kind}/${nameOf(object) ?? "?"}`;
  return `${object.kind}/${namespaceOf(object)}/${nameOf(object) ?? "?"}`;
}

export function annotationsOf(object: KubeObject): Readonly<Record<string, unknown>> {
  return asObj(metadata(object).annotations);
}

export function labelsOf(object: KubeObject): Readonly<Record<string, unknown>> {
  return asObj(metadata(object).labels);
}

export const annotationPath = (name: string): FieldPath => ["metadata", "annotations", name];
