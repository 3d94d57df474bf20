/** Kubernetes support: the pure converter and the live controller. */
export { ANNOTATION, ANNOTATION_TABLE, CLOUD_ONLY_ANNOTATIONS } from "./annotations.js";
export { type Assembly, assemble } from "./assemble.js";
export { convertAll, convertObjects, createKubernetesConverter } from "./converter.js";
export { CLUSTER_SOURCE, fromCluster, fromDocument, type KubeObject } from "./objects.js";
export type { ConverterOptions, IngressPart, ObjectResult } from "./result.js";
