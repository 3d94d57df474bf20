/**
 * Joins the kept per-object results into listeners and pools: Ingresses on one port share one
 * listener (as in any ingress controller), and an object whose port is already taken by an
 * earlier one is left out with an error naming both.
 */
import type { ListenerModel, PoolModel, Rule } from "../../core/model.js";
import { DEFAULT_MAX_FLOWS } from "../../core/model.js";
import { ConfigError, type Origin } from "../config/index.js";
import type { ConverterOptions, IngressPart, ObjectResult } from "./result.js";

export interface Assembly {
  readonly listeners: ListenerModel[];
  readonly pools: PoolModel[];
  /** Port clashes, each belonging to the object that was left out. */
  readonly errors: ConfigError[];
  readonly warnings: ConfigError[];
  readonly origins: Map<ListenerModel | PoolModel, Origin>;
  /** The results that made it into the model. */
  readonly served: ObjectResult[];
}

interface Group {
  readonly parts: { result: ObjectResult; part: IngressPart }[];
}

const at = (origin: Origin): string => `${origin.file}:${origin.line}:${origin.column}`;

const problem = (origin: Origin, message: string, warning = false): ConfigError =>
  new ConfigError({ code: warning ? "SLB_ERR_K8S_OBJECT" : "SLB_ERR_CONFIG_CLASH", ...origin, message });

/**
 * Kubernetes' precedence, made a first-match order: rules with a host before those without,
 * Exact before Prefix, longer paths first; the order of the objects breaks ties.
 */
export function precedence(a: Rule, b: Rule): number {
  const host = Number(a.host === undefined) - Number(b.host === undefined);
  if (host !== 0) return host;
  const exact = Number(a.pathType !== "Exact") - Number(b.pathType !== "Exact");
  if (exact !== 0) return exact;
  return (b.path?.length ?? 0) - (a.path?.length ?? 0);
}

/** `ingress-http-80`: no dots, so it never meets a `NAMESPACE.SERVICE.PORT` name. */
export const ingressListenerName = (protocol: string, port: number): string =>
  `ingress-${protocol.toLowerCase()}-${port}`;

function groupListener(group: Group, options: ConverterOptions, warnings: ConfigError[]): ListenerModel {
  const first = group.parts[0]!;
  const rules: Rule[] = [];
  const seen = new Map<string, string>();
  let defaultPool: string | undefined;
  let defaultFrom = "";
  for (const { result, part } of group.parts) {
    for (const rule of part.rules) {
      const key = `${rule.host ?? "*"} ${rule.pathType} ${rule.path ?? ""}`;
      const owner = seen.get(key);
      if (owner !== undefined) {
        if (owner !== result.key)
          warnings.push(
            problem(
              part.portAt,
              `the rule for host ${rule.host ?? "(any)"} path ${rule.path ?? "(any)"} is already routed by ${owner}; this one is never used`,
              true,
            ),
          );
        continue;
      }
      seen.set(key, result.key);
      rules.push(rule);
    }
    if (part.defaultPool !== undefined) {
      if (defaultPool === undefined) {
        defaultPool = part.defaultPool;
        defaultFrom = result.key;
      } else
        warnings.push(
          problem(
            part.portAt,
            `spec.defaultBackend is ignored: ${defaultFrom} already gives the default backend of port ${part.port}`,
            true,
          ),
        );
    }
  }
  rules.sort(precedence);
  return {
    name: ingressListenerName(first.part.protocol, first.part.port),
    protocol: first.part.protocol,
    address: options.listenAddress,
    port: first.part.port,
    ...(defaultPool === undefined ? {} : { defaultPool }),
    rules,
    tls: group.parts.flatMap(({ part }) => part.tls),
    proxyProtocol: false,
    timeouts: first.part.timeouts,
    maxFlows: DEFAULT_MAX_FLOWS,
    accessLog: false,
    source: { file: first.part.portAt.file, object: first.result.key },
  };
}

export function assemble(results: readonly ObjectResult[], options: ConverterOptions): Assembly {
  const errors: ConfigError[] = [];
  const warnings: ConfigError[] = [];
  const listeners: ListenerModel[] = [];
  const pools: PoolModel[] = [];
  const origins = new Map<ListenerModel | PoolModel, Origin>();
  const served: ObjectResult[] = [];
  /** `TCP:80` / `UDP:53` → who holds it. */
  const taken = new Map<string, { key: string; origin: Origin; group?: Group; protocol: string }>();
  const groups: Group[] = [];

  for (const result of results) {
    const wanted =
      result.ingress === undefined
        ? result.listeners.map((l) => ({
            protocol: l.protocol,
            port: l.port,
            origin: result.origins.get(l)!,
          }))
        : [{ protocol: result.ingress.protocol, port: result.ingress.port, origin: result.ingress.portAt }];
    const clash = wanted
      .map((w) => ({ w, holder: taken.get(`${w.protocol === "UDP" ? "UDP" : "TCP"}:${w.port}`) }))
      .find(
        ({ w, holder }) =>
          holder !== undefined &&
          !(result.ingress !== undefined && holder.group !== undefined && holder.protocol === w.protocol),
      );
    if (clash !== undefined) {
      const { w, holder } = clash;
      errors.push(
        problem(
          w.origin,
          `port ${w.port} is already taken by ${holder!.key} (${holder!.protocol}, ${at(holder!.origin)}); this object is left out. Use another port`,
        ),
      );
      continue;
    }
    served.push(result);
    for (const pool of result.pools) {
      pools.push(pool);
      const origin = result.origins.get(pool);
      if (origin !== undefined) origins.set(pool, origin);
    }
    if (result.ingress === undefined) {
      for (const listener of result.listeners) {
        listeners.push(listener);
        const origin = result.origins.get(listener)!;
        origins.set(listener, origin);
        taken.set(`${listener.protocol === "UDP" ? "UDP" : "TCP"}:${listener.port}`, {
          key: result.key,
          origin,
          protocol: listener.protocol,
        });
      }
      continue;
    }
    const part = result.ingress;
    const slot = `TCP:${part.port}`;
    const holder = taken.get(slot);
    if (holder?.group !== undefined) holder.group.parts.push({ result, part });
    else {
      const group: Group = { parts: [{ result, part }] };
      groups.push(group);
      taken.set(slot, { key: result.key, origin: part.portAt, group, protocol: part.protocol });
    }
  }
  for (const group of groups) {
    const listener = groupListener(group, options, warnings);
    listeners.push(listener);
    origins.set(listener, group.parts[0]!.part.portAt);
  }
  return { listeners, pools, errors, warnings, origins, served };
}
