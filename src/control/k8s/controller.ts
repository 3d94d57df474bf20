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
import { type Clock, systemClock } from "../../core/clock.js";
import type { Logger } from "../../core/log.js";
import type { ConfigModel } from "../../core/model.js";
import { assemble } from "./assemble.js";
import { DEFAULT_GATEWAY_CONTROLLER } from "./classes.js";
import { ControllerEvents, type UnboundListener } from "./controller-events.js";
import { ControllerStatus, type PublishedService } from "./controller-status.js";
import { convertObjects } from "./converter.js";
import type { EventRecorder } from "./event-recorder.js";
import { GatewayStatusWriter } from "./gateway-status-writer.js";
import { KeptInformer, watchedKinds } from "./informers.js";
import { fromCluster, type KubeObject, objectKey } from "./objects.js";
import { ProblemLog } from "./problem-log.js";
import type { ConverterOptions, ObjectResult } from "./result.js";
import { StatusWriter } from "./status-writer.js";

export interface ControllerOptions {
  readonly config: KubeConfig;
  readonly namespace?: string;
  readonly converter: ConverterOptions;
  readonly publishAddress?: string;
  /** The Service whose `status.loadBalancer.ingress` is copied onto the objects served. */
  readonly publishService?: PublishedService;
  /** Whether this replica writes status and Events (the Lease holder); always, without election. */
  readonly isLeader?: () => boolean;
  /** Where Events go; none are posted without it. */
  readonly events?: EventRecorder;
  /**
   * Listeners that cannot bind now (port in use, permission denied), by the object they came from
   * (`KIND/NAMESPACE/NAME`): each gets a Warning Event. The caller calls `markDirty` when this
   * changes, so that a rebuild posts the Warning, or the Normal Event once the listener binds.
   */
  readonly unboundListeners?: () => readonly UnboundListener[];
  readonly log: Logger;
  /** Swaps the running configuration; may throw (then the previous one stays). */
  readonly apply: (model: ConfigModel) => Promise<void>;
  /** Shortest time between two rebuilds; events in between are merged into one. */
  readonly throttleMs?: number;
  /** Time for the throttle (the system clock unless a test injects one). */
  readonly clock?: Clock;
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
  readonly gatewayStatus: GatewayStatusWriter;
  private readonly lastGood = new Map<string, ObjectResult>();
  private readonly problems: ProblemLog;
  private readonly events: ControllerEvents | undefined;
  private readonly published: ControllerStatus;
  private readonly clock: Clock;
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
    const loadBalancerStatus =
      options.publishAddress === undefined && options.publishService === undefined
        ? undefined
        : new StatusWriter(options.config, options.log, () => this.count("api"));
    this.gatewayStatus = new GatewayStatusWriter(
      options.config,
      options.converter.gatewayClassController ?? DEFAULT_GATEWAY_CONTROLLER,
      options.log,
      () => this.count("api"),
      options.clock ?? systemClock,
    );
    this.published = new ControllerStatus(
      loadBalancerStatus,
      this.gatewayStatus,
      options.publishAddress,
      options.publishService,
    );
    this.problems = new ProblemLog(options.log, (kind) => this.count(kind));
    this.events =
      options.events === undefined
        ? undefined
        : new ControllerEvents(options.events, options.unboundListeners ?? (() => []));
    this.clock = options.clock ?? systemClock;
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
    const wait = Math.max(0, this.lastRun + throttle - this.clock.now());
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
    this.lastRun = this.clock.now();
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
    this.problems.begin();
    for (const result of results) {
      seen.add(result.key);
      this.problems.report(result.warnings, "warn", result.kind);
      if (result.errors.length === 0) {
        this.lastGood.set(result.key, result);
        chosen.push(result);
        continue;
      }
      this.problems.report(result.errors, "error", result.kind);
      const previous = this.lastGood.get(result.key);
      if (previous !== undefined) chosen.push(previous);
    }
    for (const key of [...this.lastGood.keys()]) if (!seen.has(key)) this.lastGood.delete(key);
    const assembly = assemble(chosen, this.options.converter);
    this.problems.report(assembly.errors, "error", "clash");
    this.problems.report(assembly.warnings, "warn", "clash");
    this.problems.end();

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
    this.events?.postBindEvents(byKey);
    // Assembly warnings are parts of a served object that were refused (a rule already routed,
    // a second default backend): the object is partly applied, which deserves a Warning too.
    this.events?.postEvents(results, [...assembly.errors, ...assembly.warnings], assembly.served, byKey);
    this.published.publishGatewayStatus(results, assembly.served, assembly.errors, byKey);
    this.published.publishLoadBalancers(assembly.served, byKey);
  }

  /** Asks for a rebuild when leadership changes: a new leader writes status and Events at once. */
  leadershipChanged(): void {
    this.markDirty();
  }
}
