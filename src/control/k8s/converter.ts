/**
 * The pure converter (docs/architecture.md): Kubernetes objects in, listeners and pools out, no I/O. It is
 * the same for files (`run -f`, `validate -f`) and for the live controller; only what happens to
 * an object in error differs (files: the whole configuration is refused; controller: that object
 * is left out or keeps its previous result).
 */
import type {
  ConfigError,
  KubeObjectDoc,
  KubernetesConversion,
  KubernetesConverter,
} from "../config/index.js";
import { type Assembly, assemble } from "./assemble.js";
import { isOurIngress, isOurServiceClass } from "./classes.js";
import { ClusterIndex } from "./cluster-index.js";
import { convertGatewayApi } from "./gateways.js";
import { convertIngress } from "./ingresses.js";
import { fromDocument, type KubeObject } from "./objects.js";
import type { ConverterOptions, ObjectResult } from "./result.js";
import { convertService, isLoadBalancer } from "./services.js";

/**
 * One result per served object: LoadBalancer Services and Ingresses of our classes in input
 * order, then the Gateway API objects of our GatewayClasses.
 */
export function convertObjects(objects: readonly KubeObject[], options: ConverterOptions): ObjectResult[] {
  const index = new ClusterIndex(objects);
  const results: ObjectResult[] = [];
  for (const object of objects) {
    if (object.kind === "Service" && isLoadBalancer(object) && isOurServiceClass(object, options))
      results.push(convertService(object, index, options));
    if (object.kind === "Ingress" && isOurIngress(object, index.ingressClasses, options))
      results.push(convertIngress(object, index));
  }
  results.push(...convertGatewayApi(index, options));
  return results;
}

/** Problems found twice (a Service's annotation read for two Ingresses) are reported once. */
export function uniqueProblems(problems: readonly ConfigError[]): ConfigError[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const line = p.format();
    if (seen.has(line)) return false;
    seen.add(line);
    return true;
  });
}

/** Every object's results and the model of those without errors. */
export function convertAll(
  objects: readonly KubeObject[],
  options: ConverterOptions,
): { results: ObjectResult[]; assembly: Assembly } {
  const results = convertObjects(objects, options);
  const assembly = assemble(
    results.filter((r) => r.errors.length === 0),
    options,
  );
  return { results, assembly };
}

/** The `convertKubernetes` hook of `loadConfigFiles`: in files, any error refuses the configuration. */
export function createKubernetesConverter(options: ConverterOptions): KubernetesConverter {
  return (docs: readonly KubeObjectDoc[]): KubernetesConversion => {
    const { results, assembly } = convertAll(docs.map(fromDocument), options);
    return {
      listeners: assembly.listeners,
      pools: assembly.pools,
      errors: uniqueProblems([...results.flatMap((r) => r.errors), ...assembly.errors]),
      warnings: uniqueProblems([...results.flatMap((r) => r.warnings), ...assembly.warnings]),
      origins: assembly.origins,
    };
  };
}
