/** What the conversion of one Service or Ingress gives: the unit that is kept or left out whole. */
import type { ListenerModel, PoolModel, Rule, Timeouts, TlsCertificate } from "../../core/model.js";
import type { ConfigError, Origin } from "../config/index.js";
import type { WantedStatus } from "./gateway-conditions.js";

/** An Ingress's share of the HTTP or HTTPS listener on its port; Ingresses on one port share it. */
export interface IngressPart {
  readonly protocol: "HTTP" | "HTTPS";
  readonly port: number;
  readonly rules: readonly Rule[];
  readonly defaultPool?: string;
  readonly tls: readonly TlsCertificate[];
  readonly timeouts: Timeouts;
  /** Where the port was chosen (`kubernetes.io/elb.port`, or the object). */
  readonly portAt: Origin;
}

export interface ObjectResult {
  /** `Service/NAMESPACE/NAME` or `Ingress/NAMESPACE/NAME`. */
  readonly key: string;
  readonly kind: "Service" | "Ingress" | "GatewayClass" | "Gateway" | "HTTPRoute";
  /** Namespace and name, for writing status back. */
  readonly namespace: string;
  readonly name: string;
  readonly listeners: readonly ListenerModel[];
  readonly ingress?: IngressPart;
  readonly pools: readonly PoolModel[];
  readonly errors: readonly ConfigError[];
  readonly warnings: readonly ConfigError[];
  readonly origins: ReadonlyMap<ListenerModel | PoolModel, Origin>;
  /** Gateway API objects: the status the leader writes back (docs/gateway-api.md). */
  readonly wantedStatus?: WantedStatus;
}

export interface ConverterOptions {
  /** `--listen-address`: where listeners made from Kubernetes objects bind. */
  readonly listenAddress: string;
  /** `--ingress-class` values (default `stickylb` and `cce`). */
  readonly ingressClasses?: readonly string[];
  /** `--load-balancer-class` (default `stickylb.io/stickylb`). */
  readonly loadBalancerClass?: string;
  /** `--gateway-class-controller` (default `stickylb.io/gateway-controller`). */
  readonly gatewayClassController?: string;
}
