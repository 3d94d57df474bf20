/**
 * The live controller (docs/architecture.md, level-triggered as Traefik's Kubernetes provider): informers
 * keep caches of Services, EndpointSlices, Endpoints, Ingresses, IngressClasses, TLS Secrets and
 * the Gateway API kinds (GatewayClass, Gateway, HTTPRoute, BackendLBPolicy); any event marks
 * the model dirty; a throttled loop converts the whole cache with the same pure converter as
 * files and hands the model to `apply` (a reload: listeners that stay keep their connections).
 *
 * Unlike files, a bad object does not stop the others: it is left out, or keeps its last good
 * result when it had one; its problems are logged once and counted by kind
 * (`stickylb_config_errors_total{kind}`).
 *
 * Every replica converts and serves; only the leader (see leader-election.ts) writes back what
 * the cluster should hold once: `status.loadBalancer`, Gateway API status conditions, and Events
 * about objects in error.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../../core/log.js";
import type { ConfigModel } from "../../core/model.js";
import type { ConfigError } from "../config/index.js";
import { assemble } from "./assemble.js";
import { DEFAULT_GATEWAY_CONTROLLER } from "./classes.js";
import { convertObjects } from "./converter.js";
import {
  ANNOTATION_NOT_HONOURED,
  CONFIGURED,
  type EventRecorder,
  INVALID_CONFIGURATION,
  type ObjectRef,
} from "./event-recorder.js";
import { condition } from "./gateway-conditions.js";
import { GatewayStatusWriter } from "./gateway-status-writer.js";
import { KeptInformer, watchedKinds } from "./informers.js";
import { asList, asObj, fromCluster, isObj, type KubeObject, metadata, objectKey } from "./objects.js";
import type { ConverterOptions, ObjectResult } from "./result.js";
import { type PublishedAddress, StatusWriter } from "./status-writer.js";

export interface ControllerOptions {
  readonly config: KubeConfig;
  readonly namespace?: string;
  readonly converter: ConverterOptions;
  readonly publishAddress?: string;
  /** The Service whose `status.loadBalancer.ingress` is copied onto the objects served. */
  readonly publishService?: { readonly namespace: string; readonly name: string };
  /** Whether this replica writes status and Events (the Lease holder); always, without election. */
  readonly isLeader?: () => boolean;
  /** Where Events go; none are posted without it. */
  readonly events?: EventRecorder;
  /**
   * Listeners that cannot bind now (port in use, permission denied), by the object they came from
   * (`KIND/NAMESPACE/NAME`): each gets a Warning Event. The caller calls `markDirty` when this
   * changes, so that a rebuild posts the Warning, or the Normal Event once the listener binds.
   */
  readonly unboundListeners?: () => readonly { readonly object: string; readonly message: string }[];
  readonly log: Logger;
  /** Swaps the running configuration; may throw (then the previous one stays). */
  readonly apply: (model: ConfigModel) => Promise<void>;
  /** Shortest time between two rebuilds; events in between are merged into one. */
  readonly throttleMs?: number;
}

const DEFAULT_THROTTLE_MS = 100;

const creation = (object: KubeObject): string => {
  const stamp = (object.doc.metadata as { creationTimestamp?: unknown } | undefined)?.creationTimestamp;
  return stamp instanceof Date ? stamp.toISOString() : typeof stamp === "string" ? stamp : "";
};

export class KubernetesController {
  /** Problems counted by kind of object (Service, Ingress) or `api`. */
  readonly configErrors = new Map<string, number>();
  private readonly informers: KeptInformer[];
  private readonly status: StatusWriter | undefined;
  readonly gatewayStatus: GatewayStatusWriter;
  private readonly lastGood = new Map<string, ObjectResult>();
  /** Objects that got a Warning Event, so that a Normal one follows once they are fixed. */
  private readonly warned = new Set<string>();
  /** ingress-nginx annotations already reported by an Event: each is reported once. */
  private readonly notHonoured = new Set<string>();
  /** Problems already logged, so that every rebuild does not log them again. */
  private reported = new Set<string>();
  /** Objects with a listener that could not bind at the last rebuild, for the same reason. */
  private bindWarned = new Set<string>();
  private dirty = false;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRun = 0;
  private appliedJson = "";
  private stopped = false;
  private syncedResolve: (() => void) | undefined;
  readonly synced: Promise<void>;

  constructor(private readonly options: ControllerOptions) {
    const events = {
      changed: () => this.markDirty(),
      failed: (kind: string, error: unknown) => {
        this.count("api");
        options.log.warn(
          { err: error, kind, code: "SLB_ERR_K8S_API" },
          "kubernetes list/watch failed; retrying with backoff",
        );
      },
    };
    this.informers = watchedKinds(options.config, options.namespace).map(
      (spec) => new KeptInformer(spec, options.config, events, options.log),
    );
    this.status =
      options.publishAddress === undefined && options.publishService === undefined
        ? undefined
        : new StatusWriter(options.config, options.log, () => this.count("api"));
    this.gatewayStatus = new GatewayStatusWriter(
      options.config,
      options.converter.gatewayClassController ?? DEFAULT_GATEWAY_CONTROLLER,
      options.log,
      () => this.count("api"),
    );
    this.synced = new Promise((resolve) => {
      this.syncedResolve = resolve;
    });
  }

  start(): void {
    for (const informer of this.informers) void informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  private count(kind: string): void {
    this.configErrors.set(kind, (this.configErrors.get(kind) ?? 0) + 1);
  }

  markDirty(): void {
    this.dirty = true;
    if (this.running || this.timer !== undefined || this.stopped) return;
    const throttle = this.options.throttleMs ?? DEFAULT_THROTTLE_MS;
    const wait = Math.max(0, this.lastRun + throttle - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, wait);
  }

  private async run(): Promise<void> {
    // A model built before every cache has listed once would drop what is not listed yet.
    if (!this.informers.every((i) => i.synced)) return;
    this.running = true;
    this.dirty = false;
    this.lastRun = Date.now();
    try {
      await this.rebuild();
    } catch (error) {
      this.options.log.error({ err: error }, "kubernetes rebuild failed; the running configuration stays");
    } finally {
      this.running = false;
      if (this.dirty) this.markDirty();
    }
  }

  private objects(): KubeObject[] {
    const out: KubeObject[] = [];
    for (const informer of this.informers)
      for (const item of informer.list())
        out.push(fromCluster(informer.spec.kind, item as unknown as Record<string, unknown>));
    return out;
  }

  /** Converts the caches, keeps last good results of objects in error, applies if the model changed. */
  async rebuild(): Promise<void> {
    const objects = this.objects();
    // Older objects first, so that in a port clash the object that had the port keeps it.
    const order = new Map(objects.map((o) => [o, creation(o)] as const));
    objects.sort((a, b) => (order.get(a) ?? "").localeCompare(order.get(b) ?? ""));
    const results = convertObjects(objects, this.options.converter);
    const seen = new Set<string>();
    const chosen: ObjectResult[] = [];
    const nowReported = new Set<string>();
    for (const result of results) {
      seen.add(result.key);
      this.report(result.warnings, "warn", result.kind, nowReported);
      if (result.errors.length === 0) {
        this.lastGood.set(result.key, result);
        chosen.push(result);
        continue;
      }
      this.report(result.errors, "error", result.kind, nowReported);
      const previous = this.lastGood.get(result.key);
      if (previous !== undefined) chosen.push(previous);
    }
    for (const key of [...this.lastGood.keys()]) if (!seen.has(key)) this.lastGood.delete(key);
    const assembly = assemble(chosen, this.options.converter);
    this.report(assembly.errors, "error", "clash", nowReported);
    this.report(assembly.warnings, "warn", "clash", nowReported);
    this.reported = nowReported;

    const model: ConfigModel = { listeners: assembly.listeners, pools: assembly.pools };
    const json = JSON.stringify(model);
    if (json !== this.appliedJson) {
      await this.options.apply(model);
      this.appliedJson = json;
      this.options.log.info(
        { listeners: model.listeners.length, pools: model.pools.length, objects: assembly.served.length },
        "kubernetes configuration applied",
      );
    }
    if (this.syncedResolve !== undefined) {
      this.syncedResolve();
      this.syncedResolve = undefined;
      this.options.log.info("kubernetes controller synced");
    }
    if (!(this.options.isLeader?.() ?? true)) return;
    const byKey = new Map(objects.map((o) => [objectKey(o), o] as const));
    this.postBindEvents(byKey);
    // Assembly warnings are parts of a served object that were refused (a rule already routed,
    // a second default backend): the object is partly applied, which deserves a Warning too.
    this.postEvents(results, [...assembly.errors, ...assembly.warnings], assembly.served, byKey);
    this.publishGatewayStatus(results, assembly.served, assembly.errors, byKey);
    const addresses = this.publishedAddresses(byKey);
    if (this.status !== undefined && addresses.length > 0)
      this.status.publish(
        assembly.served.flatMap((r) =>
          // Gateway API objects report their addresses through their own status (gateway-status).
          r.kind === "Service" || r.kind === "Ingress"
            ? [
                {
                  kind: r.kind,
                  namespace: r.namespace,
                  name: r.name,
                  current: byKey.get(r.key)?.doc,
                },
              ]
            : [],
        ),
        addresses,
      );
  }

  /** `--publish-address`, else what the `--publish-service` Service shows (nothing until it shows something). */
  private publishedAddresses(byKey: ReadonlyMap<string, KubeObject>): PublishedAddress[] {
    if (this.options.publishAddress !== undefined) return [{ ip: this.options.publishAddress }];
    const named = this.options.publishService;
    if (named === undefined) return [];
    const service = byKey.get(`Service/${named.namespace}/${named.name}`);
    const out: PublishedAddress[] = [];
    for (const entry of asList(asObj(asObj(service?.doc.status).loadBalancer).ingress)) {
      if (!isObj(entry)) continue;
      const ip = typeof entry.ip === "string" && entry.ip !== "" ? entry.ip : undefined;
      const hostname =
        typeof entry.hostname === "string" && entry.hostname !== "" ? entry.hostname : undefined;
      if (ip !== undefined || hostname !== undefined)
        out.push({ ...(ip === undefined ? {} : { ip }), ...(hostname === undefined ? {} : { hostname }) });
    }
    return out;
  }

  /**
   * A Warning per problem of an object left out or partly applied (the problem's line as message),
   * a Normal Event when an object warned about is served whole again. Repeats within a minute are
   * dropped by the recorder.
   */
  private postEvents(
    results: readonly ObjectResult[],
    clashes: readonly ConfigError[],
    served: readonly ObjectResult[],
    byKey: ReadonlyMap<string, KubeObject>,
  ): void {
    const recorder = this.options.events;
    if (recorder === undefined) return;
    const problems = new Map<string, ConfigError[]>();
    const add = (key: string, problem: ConfigError): void => {
      problems.set(key, [...(problems.get(key) ?? []), problem]);
    };
    for (const result of results) for (const problem of result.errors) add(result.key, problem);
    for (const problem of clashes) if (byKey.has(problem.object)) add(problem.object, problem);
    for (const [key, list] of problems) {
      const ref = refOf(byKey.get(key));
      if (ref === undefined) continue;
      this.warned.add(key);
      for (const problem of list)
        recorder.record({
          object: ref,
          type: "Warning",
          reason: INVALID_CONFIGURATION,
          message: `${problem.object}: ${problem.path}: ${problem.message}`,
        });
    }
    for (const result of results)
      for (const warning of result.warnings) {
        if (!warning.path.startsWith(NGINX_ANNOTATION_PATH)) continue;
        const message = `${warning.object}: ${warning.path}: ${warning.message}`;
        const ref = refOf(byKey.get(result.key));
        if (ref === undefined || this.notHonoured.has(message)) continue;
        this.notHonoured.add(message);
        recorder.record({ object: ref, type: "Warning", reason: ANNOTATION_NOT_HONOURED, message });
      }
    const servedKeys = new Set(served.map((r) => r.key));
    for (const key of [...this.warned]) {
      if (problems.has(key)) continue;
      this.warned.delete(key);
      const ref = refOf(byKey.get(key));
      if (ref === undefined || !servedKeys.has(key)) continue;
      recorder.record({ object: ref, type: "Normal", reason: CONFIGURED, message: "configuration applied" });
    }
  }

  /**
   * A Warning per listener that cannot bind, on the object it came from; a Normal Event once every
   * listener of an object warned about is bound (or gone). Repeats within a minute are dropped by
   * the recorder; the listener set retries the bind meanwhile.
   */
  private postBindEvents(byKey: ReadonlyMap<string, KubeObject>): void {
    const recorder = this.options.events;
    if (recorder === undefined) return;
    const now = new Set<string>();
    for (const u of this.options.unboundListeners?.() ?? []) {
      const ref = refOf(byKey.get(u.object));
      if (ref === undefined) continue;
      now.add(u.object);
      recorder.record({
        object: ref,
        type: "Warning",
        reason: BIND_FAILED,
        message: `${u.object}: ${u.message}`,
      });
    }
    for (const key of this.bindWarned) {
      if (now.has(key)) continue;
      const ref = refOf(byKey.get(key));
      if (ref !== undefined)
        recorder.record({ object: ref, type: "Normal", reason: CONFIGURED, message: "every listener bound" });
    }
    this.bindWarned = now;
  }

  /** Asks for a rebuild when leadership changes: a new leader writes status and Events at once. */
  leadershipChanged(): void {
    this.markDirty();
  }

  /** Logs a problem the first time it appears (and again only after it went away and came back). */
  /**
   * The Gateway API status of every object converted now (not the last good result: status says
   * what is wrong with the object as it is). A Gateway converted cleanly but left out when
   * assembled (its port is taken) is not Programmed.
   */
  private publishGatewayStatus(
    results: readonly ObjectResult[],
    served: readonly ObjectResult[],
    clashes: readonly ConfigError[],
    byKey: ReadonlyMap<string, KubeObject>,
  ): void {
    const servedKeys = new Set(served.map((r) => r.key));
    const targets = results.flatMap((r) => {
      if (r.wantedStatus === undefined) return [];
      let wanted = r.wantedStatus;
      if (r.kind === "Gateway" && r.errors.length === 0 && !servedKeys.has(r.key)) {
        const clash = clashes.find((c) => c.object === r.key)?.message ?? "left out";
        wanted = {
          ...wanted,
          status: {
            ...wanted.status,
            conditions: [
              condition("Accepted", true, "Accepted", "accepted by stickylb"),
              condition("Programmed", false, "AddressNotUsable", clash),
            ],
          },
        };
      }
      return [{ wanted, current: byKey.get(r.key)?.doc }];
    });
    this.gatewayStatus.publish(targets);
  }

  private report(
    problems: readonly ConfigError[],
    level: "warn" | "error",
    kind: string,
    now: Set<string>,
  ): void {
    for (const problem of problems) {
      const line = `${problem.object}: ${problem.path}: ${problem.message}`;
      now.add(line);
      if (this.reported.has(line)) continue;
      const fields = {
        code: problem.code,
        object: problem.object,
        path: problem.path,
        problem: problem.message,
      };
      if (level === "error") {
        this.count(problem.object.split("/")[0] ?? kind);
        this.options.log.error(
          fields,
          "kubernetes object left out (its previous configuration, if any, stays)",
        );
      } else this.options.log.warn(fields, "kubernetes configuration warning");
    }
  }
}

/** The Event reason when a listener an object asks for cannot bind its port here (it is retried). */
const BIND_FAILED = "BindFailed";

const API_VERSIONS: Readonly<Record<string, string>> = {
  Service: "v1",
  Ingress: "networking.k8s.io/v1",
  GatewayClass: "gateway.networking.k8s.io/v1",
  Gateway: "gateway.networking.k8s.io/v1",
  HTTPRoute: "gateway.networking.k8s.io/v1",
};

/** Warnings about ingress-nginx annotations, which users migrating look for on the Ingress itself. */
const NGINX_ANNOTATION_PATH = 'metadata.annotations["nginx.ingress.kubernetes.io/';

function refOf(object: KubeObject | undefined): ObjectRef | undefined {
  if (object === undefined) return undefined;
  const meta = metadata(object);
  const name = typeof meta.name === "string" ? meta.name : undefined;
  if (name === undefined) return undefined;
  return {
    kind: object.kind,
    apiVersion: API_VERSIONS[object.kind] ?? "v1",
    namespace: typeof meta.namespace === "string" && meta.namespace !== "" ? meta.namespace : "default",
    name,
    ...(typeof meta.uid === "string" ? { uid: meta.uid } : {}),
  };
}
