import type { ListenerModel, Rule } from "../../core/model.js";

/**
 * Host and path routing of an HTTP/HTTPS listener (docs/configuration.md): rules in order, first match wins,
 * then `defaultPool`; undefined means 404.
 */
export type RouteMatcher = (host: string, path: string) => string | undefined;

/** One rule reduced to the comparisons it needs, so that a request costs no string building. */
interface CompiledRule {
  readonly host: string | undefined;
  readonly path: string | undefined;
  /** `path` without its trailing slash, for whole-segment prefix matching. */
  readonly prefix: string;
  readonly exact: boolean;
  readonly pool: string;
}

function compileRule(rule: Rule): CompiledRule {
  const path = rule.path;
  const prefix = path === undefined ? "" : path.replace(/\/+$/, "");
  return { host: rule.host?.toLowerCase(), path, prefix, exact: rule.pathType === "Exact", pool: rule.pool };
}

/**
 * Kubernetes `Prefix` semantics: the path is split into segments and the rule's segments must be
 * a prefix of them, so `/api` matches `/api`, `/api/` and `/api/x` but not `/apix`. `/` matches
 * everything.
 */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === "") return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47; /* "/" */
}

function ruleMatches(rule: CompiledRule, host: string, path: string): boolean {
  if (rule.host !== undefined && rule.host !== host) return false;
  if (rule.path === undefined) return true;
  return rule.exact ? path === rule.path : prefixMatches(rule.prefix, path);
}

/** Builds the matcher of a listener model; done once per snapshot (`runtime/build-snapshot.ts`). */
export function compileRoutes(model: Pick<ListenerModel, "rules" | "defaultPool">): RouteMatcher {
  const rules = model.rules.map(compileRule);
  const fallback = model.defaultPool;
  return (host, path) => {
    for (const rule of rules) if (ruleMatches(rule, host, path)) return rule.pool;
    return fallback;
  };
}

/**
 * Which rule a host and path match, and the pool it sends to (the rule is undefined when the
 * default pool or nothing takes it): the same comparisons as {@link compileRoutes}, for the admin
 * API's explain, which must name the rule and not only the pool.
 */
export function matchRule(
  model: Pick<ListenerModel, "rules" | "defaultPool">,
  host: string,
  path: string,
): { readonly rule: Rule | undefined; readonly pool: string | undefined } {
  for (const rule of model.rules) {
    if (ruleMatches(compileRule(rule), host, path)) return { rule, pool: rule.pool };
  }
  return { rule: undefined, pool: model.defaultPool };
}

/** The `Host` header as rules compare it: lower case, without a port (IPv6 literals keep their brackets). */
export function normalizeHost(header: string | undefined): string {
  if (header === undefined) return "";
  const host = header.trim().toLowerCase();
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    return end < 0 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(":");
  return colon < 0 ? host : host.slice(0, colon);
}

/**
 * The path of a request target without its query: origin-form (`/a?b`) as is, absolute-form
 * (`http://h/a?b`) reduced to its path, `*` and anything else to itself.
 */
export function pathOf(target: string): string {
  let path = target;
  if (!path.startsWith("/")) {
    const scheme = path.indexOf("://");
    if (scheme > 0) {
      const slash = path.indexOf("/", scheme + 3);
      path = slash < 0 ? "/" : path.slice(slash);
    }
  }
  const q = path.search(/[?#]/);
  return q < 0 ? path : path.slice(0, q);
}
