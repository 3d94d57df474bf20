/**
 * Which objects are ours. A cluster may run several load balancers and ingress controllers side
 * by side (MetalLB, a cloud's controller, ingress-nginx); taking an object meant for another one
 * would serve it twice and fight over its status. See docs/kubernetes.md, "What is served".
 */
import { annotationsOf, asObj, type KubeObject } from "./objects.js";
import type { ConverterOptions } from "./result.js";

/** `spec.controller` of the IngressClass objects that name stickylb. */
export const INGRESS_CONTROLLER = "stickylb.io/ingress-controller";
/** Default of `--load-balancer-class`. */
export const DEFAULT_LOAD_BALANCER_CLASS = "stickylb.io/stickylb";
/** Default of `--gateway-class-controller`: the `controllerName` of GatewayClasses that name stickylb. */
export const DEFAULT_GATEWAY_CONTROLLER = "stickylb.io/gateway-controller";
/** Default of `--ingress-class`: our own name, and CCE's, so that CCE manifests apply unchanged. */
export const DEFAULT_INGRESS_CLASSES: readonly string[] = ["stickylb", "cce"];

const LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class";
const DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class";

const text = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? value : undefined;

/** A LoadBalancer Service without `spec.loadBalancerClass`, or with ours. */
export function isOurServiceClass(service: KubeObject, options: ConverterOptions): boolean {
  const named = text(asObj(service.doc.spec).loadBalancerClass);
  return named === undefined || named === (options.loadBalancerClass ?? DEFAULT_LOAD_BALANCER_CLASS);
}

/** The class an Ingress asks for: the field, else the older annotation. */
export function ingressClassOf(ingress: KubeObject): string | undefined {
  return (
    text(asObj(ingress.doc.spec).ingressClassName) ?? text(annotationsOf(ingress)[LEGACY_CLASS_ANNOTATION])
  );
}

const isOurIngressClass = (ingressClass: KubeObject): boolean =>
  asObj(ingressClass.doc.spec).controller === INGRESS_CONTROLLER;

const isDefaultClass = (ingressClass: KubeObject): boolean =>
  annotationsOf(ingressClass)[DEFAULT_CLASS_ANNOTATION] === "true";

/**
 * An Ingress is ours when its class is one of `--ingress-class`, or an IngressClass of that name
 * has our controller, or it names no class and one of our IngressClasses is the cluster default.
 */
export function isOurIngress(
  ingress: KubeObject,
  ingressClasses: ReadonlyMap<string, KubeObject>,
  options: ConverterOptions,
): boolean {
  const named = ingressClassOf(ingress);
  if (named === undefined)
    return [...ingressClasses.values()].some((c) => isOurIngressClass(c) && isDefaultClass(c));
  if ((options.ingressClasses ?? DEFAULT_INGRESS_CLASSES).includes(named)) return true;
  const found = ingressClasses.get(named);
  return found !== undefined && isOurIngressClass(found);
}
