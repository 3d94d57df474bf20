/**
 * TLS certificates of an HTTPS listener and the SNI choice between them. Each certificate serves
 * the DNS names of its subjectAltName (or its CN when it has none), wildcards one label deep as
 * RFC 6125 6.4.3 allows; a client without SNI, or with a name no certificate covers, gets the first.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import * as tls from "node:tls";
import type { ListenerModel, TlsCertificate } from "../../core/model.js";

export interface SniTable {
  readonly contexts: readonly tls.SecureContext[];
  /** Lower-case names (`www.example.com`, `*.example.com`) → context. */
  readonly byName: ReadonlyMap<string, tls.SecureContext>;
  /** First certificate's PEM material, for the server's default context. */
  readonly defaultOptions: { readonly cert: string; readonly key: string };
}

function readPem(pem: string | undefined, file: string, baseDir: string): string {
  if (pem !== undefined) return pem;
  return readFileSync(isAbsolute(file) ? file : resolve(baseDir, file), "utf8");
}

/** The DNS names a certificate is for: subjectAltName DNS entries, else the subject's CN. */
export function certificateNames(certPem: string): string[] {
  const cert = new X509Certificate(certPem);
  const names: string[] = [];
  for (const entry of (cert.subjectAltName ?? "").split(",")) {
    const e = entry.trim();
    if (e.startsWith("DNS:")) names.push(e.slice(4).toLowerCase());
  }
  if (names.length === 0) {
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
    if (cn !== undefined) names.push(cn.trim().toLowerCase());
  }
  return names;
}

/** Reads and compiles every certificate of a listener; throws (naming the file) on a bad one. */
export function buildSniTable(certs: readonly TlsCertificate[], baseDir: string): SniTable {
  const contexts: tls.SecureContext[] = [];
  const byName = new Map<string, tls.SecureContext>();
  let defaultOptions: { cert: string; key: string } | undefined;
  for (const c of certs) {
    const cert = readPem(c.certPem, c.certFile, baseDir);
    const key = readPem(c.keyPem, c.keyFile, baseDir);
    const context = tls.createSecureContext({ cert, key });
    contexts.push(context);
    defaultOptions ??= { cert, key };
    for (const name of certificateNames(cert)) if (!byName.has(name)) byName.set(name, context);
  }
  if (defaultOptions === undefined) throw new Error("an HTTPS listener needs at least one certificate");
  return { contexts, byName, defaultOptions };
}

/** The context for an SNI server name: exact name, then `*.parent`, then the first certificate. */
export function contextFor(table: SniTable, servername: string): tls.SecureContext | undefined {
  const name = servername.toLowerCase();
  const exact = table.byName.get(name);
  if (exact !== undefined) return exact;
  const dot = name.indexOf(".");
  if (dot > 0) {
    const wildcard = table.byName.get(`*${name.slice(dot)}`);
    if (wildcard !== undefined) return wildcard;
  }
  return table.contexts[0];
}

/** Certificates are read once per listener model (a reload makes a new model and re-reads them). */
const tables = new WeakMap<ListenerModel, SniTable>();

export function sniTableFor(model: ListenerModel): SniTable {
  let table = tables.get(model);
  if (table === undefined) {
    table = buildSniTable(model.tls, dirname(model.source.file));
    tables.set(model, table);
  }
  return table;
}
