/**
 * The `kubernetes.io/elb.*` annotations of docs/reference/annotations.md: which objects read each one, the cloud-only
 * ones that are accepted with a warning, and the readers of annotation values. Every reader
 * reports its own problem (object, annotation, bad value, what is accepted) and returns
 * undefined, so one conversion reports every problem.
 */
import type { FieldPath } from "../config/index.js";
import { annotationPath, annotationsOf, isObj, type Obj } from "./objects.js";
import type { ObjectReport } from "./report.js";

export const ANNOTATION = {
  lbAlgorithm: "kubernetes.io/elb.lb-algorithm",
  affinityMode: "kubernetes.io/elb.session-affinity-mode",
  affinityOption: "kubernetes.io/elb.session-affinity-option",
  healthCheckFlag: "kubernetes.io/elb.health-check-flag",
  healthCheckOption: "kubernetes.io/elb.health-check-option",
  healthCheckOptions: "kubernetes.io/elb.health-check-options",
  keepaliveTimeout: "kubernetes.io/elb.keepalive_timeout",
  clientTimeout: "kubernetes.io/elb.client_timeout",
  memberTimeout: "kubernetes.io/elb.member_timeout",
  port: "kubernetes.io/elb.port",
  protocolPort: "kubernetes.io/elb.protocol-port",
} as const;

type ReadOn = "Service" | "Ingress";

/** The annotations stickylb reads, with the kinds that read each (docs/reference/annotations.md). */
export const ANNOTATION_TABLE: readonly { readonly name: string; readonly on: readonly ReadOn[] }[] = [
  { name: ANNOTATION.lbAlgorithm, on: ["Service"] },
  { name: ANNOTATION.affinityMode, on: ["Service", "Ingress"] },
  { name: ANNOTATION.affinityOption, on: ["Service", "Ingress"] },
  { name: ANNOTATION.healthCheckFlag, on: ["Service"] },
  { name: ANNOTATION.healthCheckOption, on: ["Service"] },
  { name: ANNOTATION.healthCheckOptions, on: ["Service"] },
  { name: ANNOTATION.keepaliveTimeout, on: ["Service", "Ingress"] },
  { name: ANNOTATION.clientTimeout, on: ["Service", "Ingress"] },
  { name: ANNOTATION.memberTimeout, on: ["Service", "Ingress"] },
  { name: ANNOTATION.port, on: ["Ingress"] },
  { name: ANNOTATION.protocolPort, on: ["Service"] },
];

/**
 * CCE annotations that create or configure the cloud ELB itself (which load balancer, subnet,
 * public IP, certificates held by the cloud, ACLs, tags…). They are accepted so that the same
 * manifests apply unchanged, and reported once as having no effect here.
 */
export const CLOUD_ONLY_ANNOTATIONS: readonly string[] = [
  "kubernetes.io/elb.class",
  "kubernetes.io/elb.id",
  "kubernetes.io/elb.autocreate",
  "kubernetes.io/elb.subnet-id",
  "kubernetes.io/elb.eip-id",
  "kubernetes.io/elb.enterpriseID",
  "kubernetes.io/elb.ip",
  "kubernetes.io/elb.lb-name",
  "kubernetes.io/elb.pass-through",
  "kubernetes.io/elb.cert-id",
  "kubernetes.io/elb.default-tls-container-ref",
  "kubernetes.io/elb.tls-certificate-ids",
  "kubernetes.io/elb.tls-ciphers-policy",
  "kubernetes.io/elb.security_policy_id",
  "kubernetes.io/elb.http2-enable",
  "kubernetes.io/elb.x-forwarded-host",
  "kubernetes.io/elb.enable-transparent-client-ip",
  "kubernetes.io/elb.acl-id",
  "kubernetes.io/elb.acl-status",
  "kubernetes.io/elb.acl-type",
  "kubernetes.io/elb.tags",
  "kubernetes.io/elb.mark",
  "kubernetes.io/elb.health-check-source-ip",
  "kubernetes.io/elb.listener-master-ingress",
  "kubernetes.io/elb.multicluster",
];

const ELB_PREFIX = "kubernetes.io/elb.";

/** Warns about each `kubernetes.io/elb.*` annotation that this object's kind does not read. */
export function checkAnnotationNames(kind: ReadOn, report: ObjectReport): void {
  for (const name of Object.keys(annotationsOf(report.object))) {
    if (!name.startsWith(ELB_PREFIX)) continue;
    const known = ANNOTATION_TABLE.find((a) => a.name === name);
    if (known !== undefined) {
      if (!known.on.includes(kind))
        report.warn(
          annotationPath(name),
          `has no effect on ${kind === "Ingress" ? "an" : "a"} ${kind} (it is read on ${known.on.join(" and ")} objects); ignored`,
          "SLB_ERR_K8S_NO_EFFECT",
        );
    } else if (CLOUD_ONLY_ANNOTATIONS.includes(name)) {
      report.warn(
        annotationPath(name),
        "has no effect here (it configures the Huawei Cloud ELB itself); accepted and ignored",
        "SLB_ERR_K8S_NO_EFFECT",
      );
    } else {
      report.warn(
        annotationPath(name),
        "is not an annotation that stickylb knows; ignored (see docs/kubernetes.md for the list)",
        "SLB_ERR_K8S_NO_EFFECT",
      );
    }
  }
}

/** A value as a message shows it: strings quoted. */
export const show = (value: unknown): string =>
  typeof value === "string"
    ? JSON.stringify(value)
    : isObj(value)
      ? "an object"
      : Array.isArray(value)
        ? "a list"
        : String(value);

/** Where an annotation (or a key inside its JSON) is, and whom to tell about it. */
export interface Place {
  readonly report: ObjectReport;
  readonly path: FieldPath;
}

export interface RawAnnotation {
  readonly value: string;
  readonly at: Place;
}

/**
 * The annotation's string value, or undefined when absent. Annotation values are strings in
 * Kubernetes (kubectl refuses others); a file that writes a bare number or boolean is told so.
 */
export function rawAnnotation(report: ObjectReport, name: string): RawAnnotation | undefined {
  const value = annotationsOf(report.object)[name];
  if (value === undefined || value === null) return undefined;
  const at = { report, path: annotationPath(name) };
  if (typeof value !== "string") {
    report.error(
      at.path,
      `${show(value)} is not valid (annotation values are strings; write "${String(value)}")`,
      "SLB_ERR_K8S_ANNOTATION",
    );
    return undefined;
  }
  return { value, at };
}

export function refuse(at: Place, message: string): undefined {
  at.report.error(at.path, message, "SLB_ERR_K8S_ANNOTATION");
  return undefined;
}

export function readEnum<T extends string>(raw: RawAnnotation, values: readonly T[]): T | undefined {
  if ((values as readonly string[]).includes(raw.value)) return raw.value as T;
  return refuse(raw.at, `${show(raw.value)} is not valid (one of ${values.join(", ")})`);
}

/**
 * A whole number written as a string or (inside JSON) as an integer, in `[min, max]`. `what`
 * names the value in messages, e.g. `persistence_timeout` and `minutes`.
 */
export function readInteger(
  at: Place,
  value: unknown,
  min: number,
  max: number,
  unit: string,
  label = "",
): number | undefined {
  const prefix = label === "" ? "" : `${label} `;
  const accepted = `${unit === "" ? "" : `${unit}, `}an integer ${min}–${max}`;
  const number =
    typeof value === "number"
      ? value
      : typeof value === "string" && /^\d+$/.test(value.trim())
        ? Number(value)
        : Number.NaN;
  if (!Number.isInteger(number)) return refuse(at, `${prefix}${show(value)} is not valid (${accepted})`);
  if (number < min || number > max)
    return refuse(at, `${prefix}${show(value)} is out of range (${accepted})`);
  return number;
}

/** Parses a JSON annotation; `example` shows what is accepted. */
export function readJson(raw: RawAnnotation, example: string): unknown {
  try {
    return JSON.parse(raw.value) as unknown;
  } catch {
    return refuse(raw.at, `${show(raw.value)} is not valid JSON (${example})`);
  }
}

export function readJsonObject(raw: RawAnnotation, example: string): Obj | undefined {
  const parsed = readJson(raw, example);
  if (parsed === undefined) return undefined;
  if (isObj(parsed)) return parsed;
  return refuse(raw.at, `${show(raw.value)} is not a JSON object (${example})`);
}
