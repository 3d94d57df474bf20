/**
 * One informer (list + watch + cache, from @kubernetes/client-node) per watched kind, kept alive
 * for ever: the library's ListWatch relists by itself after `410 Gone` (the watch's
 * resourceVersion is too old), but stops on any other error; this wrapper restarts it with
 * exponential backoff (200 ms doubling to 10 s, as client-go's reflector does), so the controller
 * never exits on a transient API error.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  type KubeConfig,
  type KubernetesObject,
  ListWatch,
  NetworkingV1Api,
  Watch,
} from "@kubernetes/client-node";
import type { Logger } from "../../core/log.js";
import type { KubernetesKind } from "../config/index.js";

export interface WatchedKind {
  readonly kind: KubernetesKind;
  readonly path: string;
  readonly list: () => Promise<{ items: KubernetesObject[]; metadata?: { resourceVersion?: string } }>;
  readonly fieldSelector?: string;
  /**
   * A kind whose CRD may not be installed (the Gateway API): while the API server answers 404,
   * the cache counts as synced and empty, so the rest of the cluster is served all the same.
   */
  readonly optional?: boolean;
}

/** The Gateway API kinds, with the version each is read at. */
export const GATEWAY_API_KINDS: readonly {
  kind: KubernetesKind;
  version: string;
  plural: string;
  cluster?: boolean;
}[] = [
  { kind: "GatewayClass", version: "v1", plural: "gatewayclasses", cluster: true },
  { kind: "Gateway", version: "v1", plural: "gateways" },
  { kind: "HTTPRoute", version: "v1", plural: "httproutes" },
  { kind: "BackendLBPolicy", version: "v1alpha2", plural: "backendlbpolicies" },
];
export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";

function gatewayApiKinds(config: KubeConfig, namespace: string | undefined): WatchedKind[] {
  const custom = config.makeApiClient(CustomObjectsApi);
  return GATEWAY_API_KINDS.map(({ kind, version, plural, cluster }) => {
    const group = GATEWAY_API_GROUP;
    const base = `/apis/${group}/${version}`;
    const scoped = cluster !== true && namespace !== undefined;
    return {
      kind,
      optional: true,
      path: scoped ? `${base}/namespaces/${namespace}/${plural}` : `${base}/${plural}`,
      list: () =>
        (scoped
          ? custom.listNamespacedCustomObject({ group, version, namespace, plural })
          : cluster === true
            ? custom.listClusterCustomObject({ group, version, plural })
            : custom.listCustomObjectForAllNamespaces({
                group,
                version,
                plural,
              })) as Promise<{
          items: KubernetesObject[];
          metadata?: { resourceVersion?: string };
        }>,
    };
  });
}

/** Only TLS Secrets matter; the API server filters them (`type` is a field selector of Secrets). */
const TLS_SECRETS = "type=kubernetes.io/tls";

/** The list and watch endpoints of every kind the converter reads, all namespaces or one. */
export function watchedKinds(config: KubeConfig, namespace: string | undefined): WatchedKind[] {
  const core = config.makeApiClient(CoreV1Api);
  const discovery = config.makeApiClient(DiscoveryV1Api);
  const networking = config.makeApiClient(NetworkingV1Api);
  const ns = namespace === undefined ? "" : `/namespaces/${namespace}`;
  const one = namespace !== undefined ? { namespace } : undefined;
  return [
    {
      kind: "Service",
      path: `/api/v1${ns}/services`,
      list: () => (one ? core.listNamespacedService(one) : core.listServiceForAllNamespaces()),
    },
    {
      kind: "EndpointSlice",
      path: `/apis/discovery.k8s.io/v1${ns}/endpointslices`,
      list: () =>
        one ? discovery.listNamespacedEndpointSlice(one) : discovery.listEndpointSliceForAllNamespaces(),
    },
    {
      kind: "Endpoints",
      path: `/api/v1${ns}/endpoints`,
      list: () => (one ? core.listNamespacedEndpoints(one) : core.listEndpointsForAllNamespaces()),
    },
    {
      kind: "Ingress",
      path: `/apis/networking.k8s.io/v1${ns}/ingresses`,
      list: () => (one ? networking.listNamespacedIngress(one) : networking.listIngressForAllNamespaces()),
    },
    {
      // Cluster-scoped: read in every case, even when only one namespace is watched.
      kind: "IngressClass",
      path: "/apis/networking.k8s.io/v1/ingressclasses",
      list: () => networking.listIngressClass(),
    },
    {
      kind: "Secret",
      path: `/api/v1${ns}/secrets`,
      fieldSelector: TLS_SECRETS,
      list: () =>
        one
          ? core.listNamespacedSecret({ ...one, fieldSelector: TLS_SECRETS })
          : core.listSecretForAllNamespaces({ fieldSelector: TLS_SECRETS }),
    },
    ...gatewayApiKinds(config, namespace),
  ];
}

/** Asks the API server for BOOKMARK events, so that a reconnecting watch resumes near the present. */
class BookmarkWatch extends Watch {
  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true }, callback, done);
  }
}

export interface InformerEvents {
  /** Any add, update or delete. */
  changed(): void;
  /** An error was counted; the informer restarts by itself. */
  failed(kind: KubernetesKind, error: unknown): void;
}

const BACKOFF_FIRST_MS = 200;
const BACKOFF_MAX_MS = 10_000;

/** The HTTP status of a failed API call, when it has one. */
function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown; statusCode?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

export class KeptInformer {
  private readonly informer: ListWatch<KubernetesObject>;
  private backoffMs = BACKOFF_FIRST_MS;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** True after the first successful list. */
  synced = false;

  constructor(
    readonly spec: WatchedKind,
    config: KubeConfig,
    private readonly events: InformerEvents,
    private readonly log: Logger,
  ) {
    this.informer = new ListWatch(
      spec.path,
      new BookmarkWatch(config),
      spec.list,
      false,
      undefined,
      spec.fieldSelector,
    );
    for (const verb of ["add", "update", "delete"] as const) this.informer.on(verb, () => events.changed());
    this.informer.on("error", (error: unknown) => this.restartLater(error));
  }

  list(): readonly KubernetesObject[] {
    return this.informer.list();
  }

  async start(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.informer.start();
    } catch (error) {
      this.restartLater(error);
      return;
    }
    if (this.informer.latestResourceVersion() !== "" && !this.stopped) {
      if (!this.synced) this.log.debug({ kind: this.spec.kind }, "kubernetes informer synced");
      this.synced = true;
      this.backoffMs = BACKOFF_FIRST_MS;
      this.events.changed();
    }
  }

  private restartLater(error: unknown): void {
    if (this.stopped || this.timer !== undefined) return;
    if (this.spec.optional === true && statusCode(error) === 404) {
      // The CRD is not installed: nothing of this kind exists; look again later without counting an error.
      if (!this.synced)
        this.log.info(
          { kind: this.spec.kind },
          "kind not served by the API server (CRD not installed); looked for again",
        );
      this.synced = true;
      this.events.changed();
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.start();
      }, BACKOFF_MAX_MS);
      return;
    }
    this.events.failed(this.spec.kind, error);
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.start();
    }, delay);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.informer.stop();
  }
}
