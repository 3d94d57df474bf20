/**
 * The effective configuration as one native `stickylb/v1 LoadBalancer` document
 * (`stickylb validate --print`): every default written out, Kubernetes objects already converted,
 * so an operator sees exactly what `run` would serve, and `run -f` accepts the text as it is.
 *
 * The printer is the loader's inverse and nothing more: each field is written only where the
 * loader accepts it (cookie attributes only for HTTP_COOKIE, `maxFlows` only on UDP…), so a
 * printed document never trips a rule it did not trip before. Secrets are never printed (see
 * docs/reference/cli.md): a cookie key given as a value becomes an environment variable reference,
 * and certificates that came from Kubernetes Secrets become file paths to fill.
 */
import { Document, isMap, isSeq, type Node } from "yaml";
import type {
  ConfigModel,
  HealthMonitor,
  ListenerModel,
  MemberModel,
  PoolModel,
  SessionPersistence,
  TlsCertificate,
} from "../../core/model.js";
import { NATIVE_API_VERSION, NATIVE_KIND } from "./documents.js";
import { formatDuration } from "./duration.js";

/** Where a cookie key given as a value is expected when the printed document runs. */
export const PRINTED_SECRET_ENV = "STICKYLB_COOKIE_SECRET";

const HEADER = [
  " The effective configuration, printed by `stickylb validate --print`: defaults written out and",
  " Kubernetes objects converted. `stickylb run -f` accepts it as it is.",
].join("\n");

const SECRET_NOTE =
  " The cookie key is read from this variable when run starts; a key given as a value is never" +
  ` printed: set ${PRINTED_SECRET_ENV} to it.`;

/**
 * A certificate that came from a Kubernetes Secret has no file; it is printed as the path where
 * the operator can write it: `secrets/NAMESPACE/NAME/tls.crt`, relative to the printed file.
 */
const SECRET_LABEL = /^Secret ([^/\s]+)\/(\S+) tls\.(crt|key)$/;

function certPath(file: string, pem: string | undefined): string {
  if (pem === undefined) return file;
  const m = SECRET_LABEL.exec(file);
  return m === null ? file : `secrets/${m[1]}/${m[2]}/tls.${m[3]}`;
}

const fromSecret = (c: TlsCertificate): boolean => c.certPem !== undefined || c.keyPem !== undefined;

function codes(ranges: readonly (readonly [number, number])[]): string {
  return ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(",");
}

function listenerDoc(l: ListenerModel): Record<string, unknown> {
  const http = l.protocol === "HTTP" || l.protocol === "HTTPS";
  return {
    name: l.name,
    protocol: l.protocol,
    address: l.address,
    port: l.port,
    ...(l.defaultPool === undefined ? {} : { defaultPool: l.defaultPool }),
    ...(http && l.rules.length > 0
      ? {
          rules: l.rules.map((r) => ({
            ...(r.host === undefined ? {} : { host: r.host }),
            ...(r.path === undefined ? {} : { path: r.path }),
            pathType: r.pathType,
            pool: r.pool,
          })),
        }
      : {}),
    ...(l.protocol === "HTTPS"
      ? {
          tls: l.tls.map((c) => ({
            certFile: certPath(c.certFile, c.certPem),
            keyFile: certPath(c.keyFile, c.keyPem),
          })),
        }
      : {}),
    ...(l.protocol === "UDP" ? {} : { proxyProtocol: l.proxyProtocol }),
    timeouts: {
      idle: formatDuration(l.timeouts.idleMs),
      client: formatDuration(l.timeouts.clientMs),
      member: formatDuration(l.timeouts.memberMs),
      connect: formatDuration(l.timeouts.connectMs),
    },
    accessLog: l.accessLog,
    ...(l.protocol === "UDP" ? { maxFlows: l.maxFlows } : {}),
  };
}

function persistenceDoc(p: SessionPersistence): Record<string, unknown> {
  return {
    type: p.type,
    persistenceTimeout: formatDuration(p.persistenceTimeoutMs),
    ...(p.absoluteTimeoutMs === undefined ? {} : { absoluteTimeout: formatDuration(p.absoluteTimeoutMs) }),
    ...(p.type === "HTTP_COOKIE" || p.type === "APP_COOKIE" ? { cookieName: p.cookieName } : {}),
    ...(p.type === "HTTP_HEADER" ? { headerName: p.headerName } : {}),
    ...(p.type === "HTTP_COOKIE" ? { cookie: { ...p.cookie } } : {}),
    ...(p.type === "SOURCE_IP" || p.type === "APP_COOKIE" ? { maxBindings: p.maxBindings } : {}),
  };
}

function monitorDoc(h: HealthMonitor): Record<string, unknown> {
  const http = h.type === "HTTP" || h.type === "HTTPS";
  return {
    type: h.type,
    delay: formatDuration(h.delayMs),
    timeout: formatDuration(h.timeoutMs),
    maxRetries: h.maxRetries,
    maxRetriesDown: h.maxRetriesDown,
    ...(http ? { urlPath: h.urlPath, expectedCodes: codes(h.expectedCodes) } : {}),
  };
}

/** Native member names are DNS labels; a longer Pod name (a DNS subdomain) is left out. */
const PRINTABLE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function memberDoc(m: MemberModel): Record<string, unknown> {
  return {
    ...(m.name === undefined || !PRINTABLE_NAME.test(m.name) ? {} : { name: m.name }),
    address: m.address,
    port: m.port,
    weight: m.weight,
    ...(m.draining ? { draining: true } : {}),
  };
}

function poolDoc(p: PoolModel): Record<string, unknown> {
  return {
    name: p.name,
    algorithm: p.algorithm,
    ...(p.sessionPersistence === undefined
      ? {}
      : { sessionPersistence: persistenceDoc(p.sessionPersistence) }),
    ...(p.healthMonitor === undefined ? {} : { healthMonitor: monitorDoc(p.healthMonitor) }),
    members: p.members.map(memberDoc),
  };
}

/** Short lists of scalars (members, rules, certificates) read best on one line each. */
function flowItems(node: unknown): void {
  if (!isSeq(node)) return;
  for (const item of node.items) if (isMap(item)) item.flow = true;
}

/**
 * The native YAML text of `model`. `name` is the document's `metadata.name` (the loader keeps no
 * document name in the model). Deterministic: the same model always prints the same text.
 */
export function printNative(model: ConfigModel, name = "effective"): string {
  const spec: Record<string, unknown> = {};
  if (model.admin !== undefined) spec.admin = { address: model.admin.address, port: model.admin.port };
  if (model.cookieSecret !== undefined)
    spec.cookieSecret = { env: model.cookieSecret.env ?? PRINTED_SECRET_ENV };
  spec.listeners = model.listeners.map(listenerDoc);
  spec.pools = model.pools.map(poolDoc);
  const doc = new Document({ apiVersion: NATIVE_API_VERSION, kind: NATIVE_KIND, metadata: { name }, spec });
  doc.commentBefore = HEADER;
  const secret = doc.getIn(["spec", "cookieSecret"], true) as Node | undefined;
  if (secret !== undefined) secret.commentBefore = SECRET_NOTE;
  const listeners = doc.getIn(["spec", "listeners"], true);
  if (isSeq(listeners)) {
    listeners.items.forEach((item, i) => {
      if (!isMap(item)) return;
      flowItems(item.get("rules", true));
      const tls = item.get("tls", true);
      flowItems(tls);
      if (model.listeners[i]?.tls.some(fromSecret) && isSeq(tls)) {
        tls.commentBefore =
          " From Kubernetes Secrets: write each Secret's tls.crt and tls.key to these paths," +
          " relative to this file, before running it.";
      }
    });
  }
  const pools = doc.getIn(["spec", "pools"], true);
  if (isSeq(pools)) for (const item of pools.items) if (isMap(item)) flowItems(item.get("members", true));
  return doc.toString({ lineWidth: 0 });
}
