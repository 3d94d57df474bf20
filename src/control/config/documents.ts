/**
 * Sorts parsed documents into native `LoadBalancer` documents and the Kubernetes objects that
 * the Kubernetes converter reads; `kind: List` is flattened. Anything else is refused with the
 * list of what is accepted.
 */
import { ConfigError, type FieldPath, formatPath, type Position } from "./config-error.js";
import { isObj, show } from "./fields.js";
import type { ParsedDocument } from "./yaml-source.js";

export const NATIVE_API_VERSION = "stickylb/v1";
export const NATIVE_KIND = "LoadBalancer";
export const KUBERNETES_KINDS = [
  "Service",
  "Ingress",
  "EndpointSlice",
  "Endpoints",
  "Secret",
  "IngressClass",
  "GatewayClass",
  "Gateway",
  "HTTPRoute",
  "BackendLBPolicy",
] as const;
export type KubernetesKind = (typeof KUBERNETES_KINDS)[number];
const GATEWAY_API_KINDS: readonly string[] = ["GatewayClass", "Gateway", "HTTPRoute", "BackendLBPolicy"];
const GATEWAY_API_GROUP_PREFIX = "gateway.networking.k8s.io/";

const ACCEPTED =
  `${NATIVE_KIND} with apiVersion ${NATIVE_API_VERSION}, or a Kubernetes ` +
  `${KUBERNETES_KINDS.join(", ")} or List`;

/** A Kubernetes object read from a file, handed unvalidated to the Kubernetes converter. */
export interface KubeObjectDoc {
  readonly file: string;
  /** 1-based place of the document in its file. */
  readonly documentIndex: number;
  /** Where the object sits in its document: `[]`, or `["items", i]` inside a `kind: List`. */
  readonly documentPath: FieldPath;
  readonly kind: KubernetesKind;
  /** The object as plain JavaScript. */
  readonly doc: Record<string, unknown>;
  /**
   * Where the key at `path` (relative to the object) starts; for a path that is absent, where
   * its nearest present ancestor starts.
   */
  lineOf(path: FieldPath): Position;
}

/** A native document (or List item) with positions relative to it. */
export interface NativeDoc {
  readonly file: string;
  readonly value: Record<string, unknown>;
  readonly lineOf: (path: FieldPath) => Position;
}

export interface Classified {
  readonly native: NativeDoc[];
  readonly kubernetes: KubeObjectDoc[];
}

/** `KIND/NAME` or `KIND/NAMESPACE/NAME` as docs/reference/cli.md writes objects; `?` for what is missing. */
export function objectName(value: Record<string, unknown>): string {
  const kind = typeof value.kind === "string" ? value.kind : "?";
  const metadata = isObj(value.metadata) ? value.metadata : {};
  const name = typeof metadata.name === "string" ? metadata.name : "?";
  return typeof metadata.namespace === "string" ? `${kind}/${metadata.namespace}/${name}` : `${kind}/${name}`;
}

function classifyValue(
  document: ParsedDocument,
  prefix: FieldPath,
  value: unknown,
  out: Classified,
  errors: ConfigError[],
): void {
  const lineOf = (path: FieldPath): Position => document.lineOf([...prefix, ...path]);
  const refuse = (object: string, path: FieldPath, message: string): void => {
    errors.push(
      new ConfigError({
        code: "SLB_ERR_CONFIG_UNKNOWN_KIND",
        file: document.file,
        ...lineOf(path),
        object,
        path: formatPath(path),
        message,
      }),
    );
  };
  if (!isObj(value)) {
    refuse("", [], `${show(value)} is not an object (${ACCEPTED})`);
    return;
  }
  const { apiVersion, kind } = value;
  const object = objectName(value);
  if (apiVersion === NATIVE_API_VERSION) {
    if (kind === NATIVE_KIND) out.native.push({ file: document.file, value, lineOf });
    else if (kind === undefined) refuse(object, ["kind"], `a required field is missing (${NATIVE_KIND})`);
    else
      refuse(
        object,
        ["kind"],
        `${show(kind)} is not valid (${NATIVE_API_VERSION} has only kind ${NATIVE_KIND})`,
      );
    return;
  }
  if (kind === NATIVE_KIND) {
    const found =
      apiVersion === undefined ? "a required field is missing" : `${show(apiVersion)} is not valid`;
    refuse(object, ["apiVersion"], `${found} (${NATIVE_KIND} needs apiVersion ${NATIVE_API_VERSION})`);
    return;
  }
  if (kind === "List") {
    if (!Array.isArray(value.items)) {
      refuse(object, ["items"], `${show(value.items)} is not valid (a List needs a list of items)`);
      return;
    }
    value.items.forEach((item, i) => {
      classifyValue(document, [...prefix, "items", i], item, out, errors);
    });
    return;
  }
  if (
    typeof kind === "string" &&
    GATEWAY_API_KINDS.includes(kind) &&
    !(typeof apiVersion === "string" && apiVersion.startsWith(GATEWAY_API_GROUP_PREFIX))
  ) {
    // Other projects name kinds Gateway too (Istio's networking.istio.io Gateway): not ours to read.
    refuse(
      object,
      ["apiVersion"],
      `${apiVersion === undefined ? "a required field is missing" : `${show(apiVersion)} is not valid`} (${kind} is read from the Gateway API, ${GATEWAY_API_GROUP_PREFIX}v1)`,
    );
    return;
  }
  if (typeof kind === "string" && (KUBERNETES_KINDS as readonly string[]).includes(kind)) {
    out.kubernetes.push({
      file: document.file,
      documentIndex: document.index,
      documentPath: prefix,
      kind: kind as KubernetesKind,
      doc: value,
      lineOf,
    });
    return;
  }
  if (kind === undefined) refuse(object, ["kind"], `a required field is missing (${ACCEPTED})`);
  else refuse(object, ["kind"], `${show(kind)} is not a kind that stickylb reads (${ACCEPTED})`);
}

export function classify(documents: readonly ParsedDocument[], errors: ConfigError[]): Classified {
  const out: Classified = { native: [], kubernetes: [] };
  for (const document of documents) classifyValue(document, [], document.value, out, errors);
  return out;
}
