/**
 * Names of the listeners and pools made from Kubernetes objects: readable (`NAMESPACE.SERVICE.PORT`),
 * stable across rebuilds (so that runtime state keyed by pool name survives a change), and valid
 * for the native rule `[A-Za-z0-9._-]{1,63}`.
 */
import { createHash } from "node:crypto";

const MAX = 63;
const HASH_LENGTH = 8;

/**
 * Joins the parts with dots; a name longer than 63 characters keeps its head and gets a hash
 * of the whole name, so two long names that share a head still differ.
 */
export function stableName(...parts: readonly (string | number)[]): string {
  const full = parts
    .map(String)
    .join(".")
    .replace(/[^A-Za-z0-9._-]/g, "-");
  if (full.length <= MAX) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, HASH_LENGTH);
  return `${full.slice(0, MAX - HASH_LENGTH - 1)}-${hash}`;
}
