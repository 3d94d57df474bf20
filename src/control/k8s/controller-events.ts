/**
 * The Events the leader posts about the objects it converts (docs/kubernetes.md): a Warning per
 * problem of an object left out or partly applied, a Warning per ingress-nginx annotation that
 * is not honoured (once), a Warning per listener that cannot bind, and a Normal Event once an
 * object warned about is served whole again. Repeats within a minute are dropped by the recorder.
 */
import type { ConfigError } from "../config/index.js";
import {
  ANNOTATION_NOT_HONOURED,
  CONFIGURED,
  type EventRecorder,
  INVALID_CONFIGURATION,
  type ObjectRef,
} from "./event-recorder.js";
import { type KubeObject, metadata } from "./objects.js";
import type { ObjectResult } from "./result.js";

/** A listener that cannot bind now, by the object it came from (`KIND/NAMESPACE/NAME`). */
export interface UnboundListener {
  readonly object: string;
  readonly message: string;
}

export class ControllerEvents {
  /** Objects that got a Warning Event, so that a Normal one follows once they are fixed. */
  private readonly warned = new Set<string>();
  /** ingress-nginx annotations already reported by an Event: each is reported once. */
  private readonly notHonoured = new Set<string>();
  /** Objects with a listener that could not bind at the last rebuild, for the same reason. */
  private bindWarned = new Set<string>();

  constructor(
    private readonly recorder: EventRecorder,
    private readonly unboundListeners: () => readonly UnboundListener[],
  ) {}

  /**
   * A Warning per problem of an object left out or partly applied (the problem's line as message),
   * a Normal Event when an object warned about is served whole again. Repeats within a minute are
   * dropped by the recorder.
   */
  postEvents(
    results: readonly ObjectResult[],
    clashes: readonly ConfigError[],
    served: readonly ObjectResult[],
    byKey: ReadonlyMap<string, KubeObject>,
  ): void {
    const recorder = this.recorder;
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
  postBindEvents(byKey: ReadonlyMap<string, KubeObject>): void {
    const recorder = this.recorder;
    const now = new Set<string>();
    for (const u of this.unboundListeners()) {
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
