/**
 * Kubernetes Events where users look (`kubectl describe`, `kubectl get events`): a `Warning`
 * with reason `InvalidConfiguration` when an object is left out or partly applied, `BindFailed`
 * when a listener it asks for cannot bind its port, a `Normal` `Configured` once it is served
 * whole again. Core v1 Events (`/api/v1/namespaces/NS/events`),
 * which every kubectl shows and which need only `create` on `events`.
 *
 * The controller rebuilds on every change in the cluster, so the same problem is seen many times;
 * an Event identical to one posted less than a minute ago is not posted again (client-go's event
 * correlator does the same with a spam filter). The memory of posted Events is bounded: beyond
 * `maxEntries` the oldest is forgotten, which at worst posts a duplicate, never loses a new one.
 */
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Clock } from "../../core/clock.js";
import type { Logger } from "../../core/log.js";

export interface ObjectRef {
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export interface EventToPost {
  readonly object: ObjectRef;
  readonly type: "Normal" | "Warning";
  readonly reason: string;
  readonly message: string;
}

export interface EventSink {
  post(event: EventToPost, at: number): Promise<void>;
}

export const INVALID_CONFIGURATION = "InvalidConfiguration";
export const CONFIGURED = "Configured";
/** An annotation written for another controller (ingress-nginx) that stickylb does not honour. */
export const ANNOTATION_NOT_HONOURED = "AnnotationNotHonoured";
/** Identical Events are posted at most once per this period. */
export const EVENT_REPEAT_MS = 60_000;
const MAX_ENTRIES = 4096;
/** The API server refuses Event messages longer than this. */
const MAX_MESSAGE = 1024;

export class EventRecorder {
  /** Identity of an Event → when it was last posted; insertion order is age order. */
  private readonly posted = new Map<string, number>();
  /** Events posted and Events left out as repeats, for tests and the log. */
  readonly counts = { posted: 0, repeats: 0, failed: 0 };

  constructor(
    private readonly sink: EventSink,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly maxEntries = MAX_ENTRIES,
    private readonly repeatMs = EVENT_REPEAT_MS,
  ) {}

  /** Posts unless the same Event went out within the repeat period; true when posted. */
  record(event: EventToPost): boolean {
    const now = this.clock.now();
    const { object } = event;
    const identity = [
      object.kind,
      object.namespace,
      object.name,
      event.type,
      event.reason,
      event.message,
    ].join("\u0000");
    const last = this.posted.get(identity);
    if (last !== undefined && now - last < this.repeatMs) {
      this.counts.repeats++;
      return false;
    }
    this.posted.delete(identity);
    this.posted.set(identity, now);
    while (this.posted.size > this.maxEntries) {
      const oldest = this.posted.keys().next().value;
      if (oldest === undefined) break;
      this.posted.delete(oldest);
    }
    this.counts.posted++;
    const message =
      event.message.length > MAX_MESSAGE ? `${event.message.slice(0, MAX_MESSAGE - 1)}…` : event.message;
    this.sink.post({ ...event, message }, now).catch((err: unknown) => {
      this.counts.failed++;
      // Forgotten, so that the next rebuild tries again instead of waiting out the period.
      if (this.posted.get(identity) === now) this.posted.delete(identity);
      this.log.warn(
        { err, code: "SLB_ERR_K8S_API", object: `${object.kind}/${object.namespace}/${object.name}` },
        "could not post a Kubernetes Event",
      );
    });
    return true;
  }

  /** How many Event identities are remembered (bounded by `maxEntries`). */
  get size(): number {
    return this.posted.size;
  }
}

/** Posts core v1 Events through the API server. */
export class ApiEventSink implements EventSink {
  private readonly core: CoreV1Api;

  constructor(
    config: KubeConfig,
    private readonly instance: string,
  ) {
    this.core = config.makeApiClient(CoreV1Api);
  }

  async post(event: EventToPost, at: number): Promise<void> {
    const { object } = event;
    const time = new Date(at);
    await this.core.createNamespacedEvent({
      namespace: object.namespace,
      body: {
        metadata: {
          // kubectl's and client-go's naming: the object's name, a dot, a unique suffix.
          generateName: `${object.name}.`,
          namespace: object.namespace,
        },
        involvedObject: {
          kind: object.kind,
          apiVersion: object.apiVersion,
          namespace: object.namespace,
          name: object.name,
          ...(object.uid === undefined ? {} : { uid: object.uid }),
        },
        type: event.type,
        reason: event.reason,
        message: event.message,
        source: { component: "stickylb" },
        reportingComponent: "stickylb.io/stickylb",
        reportingInstance: this.instance,
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      },
    });
  }
}
