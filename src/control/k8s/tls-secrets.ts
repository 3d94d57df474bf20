/**
 * Certificates from `kubernetes.io/tls` Secrets (`tls.crt` and `tls.key`, base64 in `data`, or
 * plain in `stringData` as manifests may write them). The pair is compiled here, in the
 * converter, so that a bad Secret is refused as that object's error instead of failing the
 * whole reload when the HTTPS listener is built.
 */
import { createSecureContext } from "node:tls";
import type { TlsCertificate } from "../../core/model.js";
import type { Place } from "./annotations.js";
import type { ClusterIndex } from "./cluster-index.js";
import { asObj } from "./objects.js";

function field(secret: Record<string, unknown>, key: string): string | undefined {
  const plain = asObj(secret.stringData)[key];
  if (typeof plain === "string") return plain;
  const encoded = asObj(secret.data)[key];
  return typeof encoded === "string" ? Buffer.from(encoded, "base64").toString("utf8") : undefined;
}

/** The certificate of Secret `name` in `namespace`, or undefined when a problem was reported at `at`. */
export function certificateFromSecret(
  index: ClusterIndex,
  namespace: string,
  name: string,
  at: Place,
): TlsCertificate | undefined {
  const secret = index.get("Secret", namespace, name);
  const label = `Secret ${namespace}/${name}`;
  if (secret === undefined) {
    at.report.error(
      at.path,
      `${label} does not exist (a kubernetes.io/tls Secret in the same namespace)`,
      "SLB_ERR_K8S_REFERENCE",
    );
    return undefined;
  }
  if (secret.doc.type !== "kubernetes.io/tls") {
    at.report.error(
      at.path,
      `${label} has type ${JSON.stringify(secret.doc.type ?? "Opaque")} (a kubernetes.io/tls Secret with tls.crt and tls.key)`,
      "SLB_ERR_K8S_REFERENCE",
    );
    return undefined;
  }
  const certPem = field(secret.doc, "tls.crt");
  const keyPem = field(secret.doc, "tls.key");
  if (certPem === undefined || keyPem === undefined) {
    at.report.error(
      at.path,
      `${label} lacks ${certPem === undefined ? "tls.crt" : "tls.key"}`,
      "SLB_ERR_K8S_REFERENCE",
    );
    return undefined;
  }
  try {
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (error) {
    at.report.error(
      at.path,
      `${label} does not hold a usable certificate and key (${(error as Error).message}); PEM in tls.crt and tls.key of one pair`,
      "SLB_ERR_K8S_REFERENCE",
    );
    return undefined;
  }
  // certFile/keyFile name the source for logs; the runtime reads the PEM fields.
  return { certFile: `${label} tls.crt`, keyFile: `${label} tls.key`, certPem, keyPem };
}
