/**
 * `Service.spec.sessionAffinity: ClientIP` (kube-proxy's stickiness) → SOURCE_IP persistence of
 * the Service's ports, so a Service that relied on it inside the cluster keeps it behind
 * stickylb. The CCE affinity annotation, when set, is the more specific word and wins.
 */
import type { Algorithm, SessionPersistence } from "../../core/model.js";
import { DEFAULT_MAX_BINDINGS } from "../../core/model.js";
import { DEFAULT_COOKIE, type FieldPath } from "../config/index.js";
import type { AffinitySource } from "./affinity.js";
import { ANNOTATION, show } from "./annotations.js";
import { asObj } from "./objects.js";
import type { ObjectReport } from "./report.js";

/** Kubernetes' default and maximum of `sessionAffinityConfig.clientIP.timeoutSeconds`. */
export const CLIENT_IP_DEFAULT_SECONDS = 10_800;
export const CLIENT_IP_MAX_SECONDS = 86_400;

const AFFINITY_PATH: FieldPath = ["spec", "sessionAffinity"];
const TIMEOUT_PATH: FieldPath = ["spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"];

/**
 * The SOURCE_IP persistence that `spec.sessionAffinity` asks for; undefined when it asks for none,
 * when the CCE annotation or the algorithm already decides, or when a value was refused.
 */
export function readClientIpAffinity(
  report: ObjectReport,
  cce: AffinitySource,
  algorithm: Algorithm,
): SessionPersistence | undefined {
  const spec = asObj(report.object.doc.spec);
  const affinity = spec.sessionAffinity;
  if (affinity === undefined || affinity === null || affinity === "None") return undefined;
  if (affinity !== "ClientIP") {
    report.error(AFFINITY_PATH, `${show(affinity)} is not valid (ClientIP or None)`);
    return undefined;
  }
  const raw = asObj(asObj(spec.sessionAffinityConfig).clientIP).timeoutSeconds;
  let seconds = CLIENT_IP_DEFAULT_SECONDS;
  if (raw !== undefined && raw !== null) {
    if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 1 || raw > CLIENT_IP_MAX_SECONDS) {
      report.error(
        TIMEOUT_PATH,
        `${show(raw)} is not valid (seconds, an integer 1–${CLIENT_IP_MAX_SECONDS})`,
      );
      return undefined;
    }
    seconds = raw;
  }
  if (cce.modeAt !== undefined) {
    report.warn(
      AFFINITY_PATH,
      `${ANNOTATION.affinityMode} is also set and wins; sessionAffinity: ClientIP is ignored`,
      "SLB_ERR_K8S_NO_EFFECT",
    );
    return undefined;
  }
  if (algorithm === "SOURCE_IP") {
    report.warn(
      AFFINITY_PATH,
      `${ANNOTATION.lbAlgorithm} "SOURCE_IP" already keeps each client on its member; sessionAffinity: ClientIP adds nothing and is ignored`,
      "SLB_ERR_K8S_NO_EFFECT",
    );
    return undefined;
  }
  return {
    type: "SOURCE_IP",
    persistenceTimeoutMs: seconds * 1000,
    cookieName: "",
    cookie: DEFAULT_COOKIE,
    maxBindings: DEFAULT_MAX_BINDINGS,
  };
}
