/** The objects of one conversion, indexed by namespace and name for the lookups the converter makes. */
import type { KubernetesKind } from "../config/index.js";
import { type KubeObject, labelsOf, nameOf, namespaceOf } from "./objects.js";

export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

export class ClusterIndex {
  private readonly byKind = new Map<KubernetesKind, Map<string, KubeObject>>();
  private readonly slices = new Map<string, KubeObject[]>();
  readonly services: KubeObject[] = [];
  readonly ingresses: KubeObject[] = [];
  /** IngressClass objects by name (they have no namespace). */
  readonly ingressClasses = new Map<string, KubeObject>();
  /** Gateway API objects, in input order. */
  readonly gatewayClasses: KubeObject[] = [];
  readonly gateways: KubeObject[] = [];
  readonly httpRoutes: KubeObject[] = [];
  readonly backendLbPolicies: KubeObject[] = [];

  constructor(objects: readonly KubeObject[]) {
    for (const object of objects) {
      const name = nameOf(object);
      const ns = namespaceOf(object);
      if (object.kind === "Service") this.services.push(object);
      if (object.kind === "Ingress") this.ingresses.push(object);
      if (object.kind === "GatewayClass") this.gatewayClasses.push(object);
      if (object.kind === "Gateway") this.gateways.push(object);
      if (object.kind === "HTTPRoute") this.httpRoutes.push(object);
      if (object.kind === "BackendLBPolicy") this.backendLbPolicies.push(object);
      if (object.kind === "IngressClass" && name !== undefined) this.ingressClasses.set(name, object);
      if (object.kind === "EndpointSlice") {
        const service = labelsOf(object)[SERVICE_NAME_LABEL];
        if (typeof service === "string") {
          const key = `${ns}/${service}`;
          this.slices.set(key, [...(this.slices.get(key) ?? []), object]);
        }
      }
      if (name === undefined) continue;
      let map = this.byKind.get(object.kind);
      if (map === undefined) {
        map = new Map();
        this.byKind.set(object.kind, map);
      }
      // A later object of the same name wins, as `kubectl apply` of the files in order would do.
      map.set(`${ns}/${name}`, object);
    }
  }

  get(kind: KubernetesKind, namespace: string, name: string): KubeObject | undefined {
    return this.byKind.get(kind)?.get(`${namespace}/${name}`);
  }

  slicesOf(namespace: string, service: string): readonly KubeObject[] {
    return this.slices.get(`${namespace}/${service}`) ?? [];
  }
}
