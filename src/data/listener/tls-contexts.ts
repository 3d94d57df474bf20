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
import { StickyError } from "../../errors/codes.js";

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

/**
 * Reads and compiles every certificate of a listener; throws on a bad one, through `refuse` when
 * given (it names the certificate by its index in the list).
 */
export function buildSniTable(
  certs: readonly TlsCertificate[],
  baseDir: string,
  refuse: (index: number, err: unknown) => Error = (_i, err) => err as Error,
): SniTable {
  const contexts: tls.SecureContext[] = [];
  const byName = new Map<string, tls.SecureContext>();
  let defaultOptions: { cert: string; key: string } | undefined;
  certs.forEach((c, i) => {
    let cert: string;
    let key: string;
    let context: tls.SecureContext;
    let names: string[];
    try {
      cert = readPem(c.certPem, c.certFile, baseDir);
      key = readPem(c.keyPem, c.keyFile, baseDir);
      context = tls.createSecureContext({ cert, key });
      names = certificateNames(cert);
    } catch (err) {
      throw refuse(i, err);
    }
    contexts.push(context);
    defaultOptions ??= { cert, key };
    for (const name of names) if (!byName.has(name)) byName.set(name, context);
  });
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

/**
 * The SNI table of an HTTPS listener model, read and checked when a snapshot is built. A file
 * that cannot be read, or a certificate and key that do not make a TLS context, refuse the whole
 * configuration with a line that names the file, the listener and the certificate.
 */
export function compileSniTable(model: ListenerModel): SniTable {
  return buildSniTable(model.tls, dirname(model.source.file), (i, err) => {
    const c = model.tls[i];
    const what =
      c === undefined || c.certPem !== undefined
        ? "the certificate and key given inline"
        : `${c.certFile} with ${c.keyFile}`;
    return new StickyError(
      "SLB_ERR_CONFIG_TLS_FILE",
      `${model.source.file}: ${model.source.object}: listener ${model.name}: tls[${i}]: ${what} is not a usable certificate and key (${reason(err)})`,
    );
  });
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code !== undefined ? `${e.code}: ${e.message}` : String(e.message ?? err);
}
