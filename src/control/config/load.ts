/**
 * Loads configuration files and folders into one validated {@link ConfigModel}, collecting
 * every problem with its file, line and column (docs/reference/cli.md, docs/configuration.md).
 *
 * Native documents are validated here. Kubernetes objects are handed to an optional converter
 * hook; its listeners and pools join the native ones before the cross-document checks, so both
 * sources obey the same uniqueness and reference rules.
 */
import { accessSync, constants, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { ConfigModel, ListenerModel, PoolModel } from "../../core/model.js";
import type { ErrorCode } from "../../errors/codes.js";
import { ConfigError, compareErrors } from "./config-error.js";
import { crossCheck } from "./cross-checks.js";
import { classify, type KubeObjectDoc } from "./documents.js";
import { errorAt, type ListenerEntry, type Origin, type PoolEntry, where } from "./entries.js";
import { type Located, readNativeDocument } from "./native-document.js";
import { parseYamlText } from "./yaml-source.js";

/** What the Kubernetes converter gives back; every field may be left out. */
export interface KubernetesConversion {
  readonly listeners?: readonly ListenerModel[];
  readonly pools?: readonly PoolModel[];
  readonly errors?: readonly ConfigError[];
  readonly warnings?: readonly ConfigError[];
  /**
   * Where each listener or pool was written, for problems that the cross checks find (a name
   * clash, a socket clash). Entries without one are reported at line 1, column 1 of their
   * `source.file`.
   */
  readonly origins?: ReadonlyMap<ListenerModel | PoolModel, Origin>;
}

/** Called once per load, also when no Kubernetes object was found (then with an empty list). */
export type KubernetesConverter = (objects: readonly KubeObjectDoc[]) => KubernetesConversion;

export interface LoadOptions {
  /** Reads a file as UTF-8; throws when it cannot. */
  readonly readFile?: (path: string) => string;
  /** Whether the path is a folder; throws when it does not exist. */
  readonly isDirectory?: (path: string) => boolean;
  /** Names (not paths) of the entries of a folder. */
  readonly readDir?: (path: string) => string[];
  /** Why a certificate or key file cannot be read, or undefined when it can. */
  readonly checkReadable?: (path: string) => string | undefined;
  /** Turns the Kubernetes objects found in the files into listeners and pools. */
  readonly convertKubernetes?: KubernetesConverter;
}

export interface LoadResult {
  /** Present exactly when `errors` is empty. */
  readonly model?: ConfigModel;
  /** Sorted by file (in load order), line and column. */
  readonly errors: ConfigError[];
  readonly warnings: ConfigError[];
  readonly kubernetesObjects: KubeObjectDoc[];
}

/** A file's text, named as the user named it. */
export interface ConfigSource {
  readonly file: string;
  readonly text: string;
}

/** `ENOENT` → `no such file or directory`, the words an operator expects. */
export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return "no such file or directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a folder, not a file";
    case "ENOTDIR":
      return "a part of the path is not a folder";
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

function defaultCheckReadable(path: string): string | undefined {
  try {
    if (statSync(path).isDirectory()) return `${path}: is a folder, not a file`;
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (error) {
    return `${path}: ${describeFsError(error)}`;
  }
}

const fileProblem = (code: ErrorCode, file: string, message: string): ConfigError =>
  new ConfigError({ code, file, line: 1, column: 1, object: "", path: "", message });

/** Kubernetes ConfigMap mounts hold `..data` links beside the files; hidden names are skipped. */
const isConfigFileName = (name: string): boolean => !name.startsWith(".") && /\.ya?ml$/i.test(name);

/**
 * Reads every PATH of `stickylb run -f PATH…`: a file, or a folder whose `*.yaml` and `*.yml`
 * files (not recursive, hidden ones skipped) are read in name order. A file named twice is read
 * once. Never throws for a bad path or file: that is an error of the result.
 */
export function loadConfigFiles(paths: readonly string[], opts: LoadOptions = {}): LoadResult {
  const readFile = opts.readFile ?? ((path: string) => readFileSync(path, "utf8"));
  const isDirectory = opts.isDirectory ?? ((path: string) => statSync(path).isDirectory());
  const readDir = opts.readDir ?? ((path: string) => readdirSync(path));
  const errors: ConfigError[] = [];
  const warnings: ConfigError[] = [];
  const files: string[] = [];
  for (const path of paths) {
    let folder: boolean;
    try {
      folder = isDirectory(path);
    } catch (error) {
      errors.push(fileProblem("SLB_ERR_CONFIG_READ", path, `cannot be read (${describeFsError(error)})`));
      continue;
    }
    if (!folder) {
      files.push(path);
      continue;
    }
    let names: string[];
    try {
      names = readDir(path).filter(isConfigFileName).sort();
    } catch (error) {
      errors.push(fileProblem("SLB_ERR_CONFIG_READ", path, `cannot be read (${describeFsError(error)})`));
      continue;
    }
    const inside = names
      .map((name) => join(path, name))
      .filter((file) => !safeIsDirectory(isDirectory, file));
    // An error, not a warning: an empty folder is most often a mount that is not there yet, and
    // running (or reloading into) nothing would drop every listener.
    if (inside.length === 0)
      errors.push(fileProblem("SLB_ERR_CONFIG_READ", path, "the folder has no .yaml or .yml file"));
    files.push(...inside);
  }

  const seen = new Set<string>();
  const sources: ConfigSource[] = [];
  for (const file of files) {
    const key = resolve(file);
    if (seen.has(key)) continue;
    seen.add(key);
    try {
      sources.push({ file, text: readFile(file) });
    } catch (error) {
      errors.push(fileProblem("SLB_ERR_CONFIG_READ", file, `cannot be read (${describeFsError(error)})`));
    }
  }
  const result = loadConfigSources(sources, opts);
  const order = new Map(files.map((file, i) => [file, i] as const));
  paths.forEach((path, i) => {
    if (!order.has(path)) order.set(path, files.length + i);
  });
  const allErrors = [...errors, ...result.errors].sort(compareErrors(order));
  const allWarnings = [...warnings, ...result.warnings].sort(compareErrors(order));
  const { kubernetesObjects, model } = result;
  return allErrors.length === 0 && model !== undefined
    ? { model, errors: allErrors, warnings: allWarnings, kubernetesObjects }
    : { errors: allErrors, warnings: allWarnings, kubernetesObjects };
}

function safeIsDirectory(isDirectory: (path: string) => boolean, path: string): boolean {
  try {
    return isDirectory(path);
  } catch {
    return false;
  }
}

function foreignListener(model: ListenerModel, origins: KubernetesConversion["origins"]): ListenerEntry {
  const origin = origins?.get(model) ?? { ...model.source, path: "", line: 1, column: 1 };
  return {
    model,
    name: model.name,
    protocol: model.protocol,
    address: model.address,
    port: model.port,
    defaultPool: model.defaultPool,
    rulePools: model.rules.map((rule) => rule.pool),
    at: () => origin,
  };
}

function foreignPool(model: PoolModel, origins: KubernetesConversion["origins"]): PoolEntry {
  const origin = origins?.get(model) ?? { ...model.source, path: "", line: 1, column: 1 };
  return { model, name: model.name, persistence: model.sessionPersistence?.type, at: () => origin };
}

/** At most one document may set a spec-wide setting (`admin`, `cookieSecret`, `stateStore`). */
function single<T>(
  found: readonly (Located<T> | undefined)[],
  field: string,
  errors: ConfigError[],
): T | undefined {
  const given = found.filter((x): x is Located<T> => x !== undefined);
  const first = given[0];
  for (const later of given.slice(1)) {
    errors.push(
      errorAt(
        "SLB_ERR_CONFIG_CLASH",
        later.at([]),
        `${field} is already given (${where(first!.at([]))}); give it in one document only`,
      ),
    );
  }
  return first?.value;
}

/** Validates already-read texts; `loadConfigFiles` without the file system. */
export function loadConfigSources(sources: readonly ConfigSource[], opts: LoadOptions = {}): LoadResult {
  const checkReadable = opts.checkReadable ?? defaultCheckReadable;
  const errors: ConfigError[] = [];
  const warnings: ConfigError[] = [];
  const listeners: ListenerEntry[] = [];
  const pools: PoolEntry[] = [];
  const admins: (Located<ConfigModel["admin"] & object> | undefined)[] = [];
  const secrets: (Located<ConfigModel["cookieSecret"] & object> | undefined)[] = [];
  const stores: (Located<ConfigModel["stateStore"] & object> | undefined)[] = [];
  const documentNames = new Map<string, Located<string>>();
  const kubernetesObjects: KubeObjectDoc[] = [];
  let documentCount = 0;

  for (const source of sources) {
    const parsed = parseYamlText(source.file, source.text);
    documentCount += parsed.documents.length;
    errors.push(...parsed.errors);
    warnings.push(...parsed.warnings);
    const { native, kubernetes } = classify(parsed.documents, errors);
    kubernetesObjects.push(...kubernetes);
    for (const doc of native) {
      const read = readNativeDocument(
        { ...doc, baseDir: dirname(source.file), checkReadable },
        errors,
        warnings,
      );
      listeners.push(...read.listeners);
      pools.push(...read.pools);
      admins.push(read.admin);
      secrets.push(read.cookieSecret);
      stores.push(read.stateStore);
      if (read.name !== undefined) {
        const first = documentNames.get(read.name.value);
        if (first === undefined) documentNames.set(read.name.value, read.name);
        else
          warnings.push(
            errorAt(
              "SLB_ERR_CONFIG_CLASH",
              read.name.at([]),
              `${JSON.stringify(read.name.value)} also names the LoadBalancer at ${where(first.at([]))}; errors will be hard to tell apart`,
            ),
          );
      }
    }
  }

  if (opts.convertKubernetes !== undefined) {
    const converted = opts.convertKubernetes(kubernetesObjects);
    errors.push(...(converted.errors ?? []));
    warnings.push(...(converted.warnings ?? []));
    for (const model of converted.listeners ?? []) listeners.push(foreignListener(model, converted.origins));
    for (const model of converted.pools ?? []) pools.push(foreignPool(model, converted.origins));
  }

  const first = sources[0];
  if (first !== undefined && documentCount === 0 && errors.length === 0) {
    errors.push(
      fileProblem(
        "SLB_ERR_CONFIG_READ",
        first.file,
        `no configuration: ${sources.length === 1 ? "the file holds" : `none of the ${sources.length} files holds`} a YAML document (only empty documents or comments)`,
      ),
    );
  }
  crossCheck(listeners, pools, errors, warnings);
  const admin = single(admins, "admin", errors);
  const cookieSecret = single(secrets, "cookieSecret", errors);
  const stateStore = single(stores, "stateStore", errors);

  const order = new Map(sources.map((source, i) => [source.file, i] as const));
  errors.sort(compareErrors(order));
  warnings.sort(compareErrors(order));
  const model: ConfigModel = {
    listeners: listeners.map((entry) => entry.model),
    pools: pools.map((entry) => entry.model),
    ...(admin === undefined ? {} : { admin }),
    ...(cookieSecret === undefined ? {} : { cookieSecret }),
    ...(stateStore === undefined ? {} : { stateStore }),
  };
  return errors.length === 0
    ? { model, errors, warnings, kubernetesObjects }
    : { errors, warnings, kubernetesObjects };
}
