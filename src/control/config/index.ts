/** The configuration loader's public surface: what `stickylb validate` and `run` use. */
export {
  ConfigError,
  type ConfigErrorInit,
  type FieldPath,
  formatPath,
  type Position,
} from "./config-error.js";
export {
  KUBERNETES_KINDS,
  type KubeObjectDoc,
  type KubernetesKind,
  NATIVE_API_VERSION,
  NATIVE_KIND,
  objectName,
} from "./documents.js";
export { formatDuration, parseDuration } from "./duration.js";
export type { Origin } from "./entries.js";
export {
  type ConfigSource,
  type KubernetesConversion,
  type KubernetesConverter,
  type LoadOptions,
  type LoadResult,
  loadConfigFiles,
  loadConfigSources,
} from "./load.js";
export { DEFAULT_LISTEN_ADDRESS, defaultTimeouts } from "./native-listener.js";
export { DEFAULT_COOKIE, DEFAULT_PERSISTENCE_TIMEOUT_MS } from "./native-persistence.js";
