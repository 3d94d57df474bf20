/**
 * The live controller (STYLE 5, level-triggered as Traefik's Kubernetes provider): informers
 * keep caches of Services, EndpointSlices, Endpoints, Ingresses and TLS Secrets; any event marks
 * the model dirty; a throttled loop converts the whole cache with the same pure converter as
 * files and hands the model to `apply` (a reload: listeners that stay keep their connections).
 *
 * Unlike files, a bad object does not stop the others: it is left out, or keeps its last good
 * result when it had one; its problems are logged once and counted by kind
 * (`stickylb_config_errors_total{kind}`).
 */
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../../core/log.js";
import type { ConfigModel } from "../../core/model.js";
import type { ConfigError } from "../config/index.js";
import { assemble } from "./assemble.js";
import { convertObjects } from "./converter.js";
import { KeptInformer, watchedKinds } from "./informers.js";
import { fromCluster, type KubeObject, objectKey } from "./objects.js";
import type { ConverterOptions, ObjectResult } from "./result.js";
import { StatusWriter } from "./status-writer.js";

export interface ControllerOptions {
  readonly config: KubeConfig;
  readonly namespace?: string;
  readonly converter: ConverterOptions;
  readonly publishAddress?: string;
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
  private readonly lastGood = new Map<string, ObjectResult>();
  /** Problems already logged, so that every rebuild does not log them again. */
  private reported = new Set<string>();
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
      options.publishAddress === undefined
        ? undefined
        : new StatusWriter(options.config, options.publishAddress, options.log, () => this.count("api"));
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
    this.status?.publish(
      assembly.served.map((r) => ({
        kind: r.kind,
        namespace: r.namespace,
        name: r.name,
        current: objects.find((o) => objectKey(o) === r.key)?.doc,
      })),
    );
  }

  /** Logs a problem the first time it appears (and again only after it went away and came back). */
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
