/**
 * `stickylb run --kubernetes`: the runtime, the admin listener and the controller, with the same
 * signals as `run -f` (SIGTERM/SIGINT drain and exit 0; SIGHUP forces a rebuild from the caches).
 * It starts serving with an empty configuration and never exits on an API error: an unreachable
 * API server is retried with backoff.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { runtimeAdminSource } from "../../admin/admin-source.js";
import type { Clock } from "../../core/clock.js";
import type { Logger } from "../../core/log.js";
import type { ConfigModel } from "../../core/model.js";
import { serveUntilStopped } from "../../runtime/process-wiring.js";
import { Runtime } from "../../runtime/runtime.js";
import { KubernetesController } from "./controller.js";

export interface ControllerRunOptions {
  readonly kubeconfig?: string;
  readonly namespace?: string;
  readonly ingressClass: string;
  readonly listenAddress: string;
  readonly publishAddress?: string;
  readonly admin: { address: string; port: number } | "off";
  /** Bearer token of the admin API (required when it is not on loopback; resolved by the caller). */
  readonly adminToken?: string;
  readonly version: string;
  readonly drainTimeoutMs: number;
  readonly stateDir: string;
  readonly clock: Clock;
  readonly log: Logger;
}

/** In-cluster credentials when running in a Pod, else `--kubeconfig`, `$KUBECONFIG` or ~/.kube/config. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const config = new KubeConfig();
  if (path !== undefined) config.loadFromFile(path);
  else config.loadFromDefault();
  return config;
}

/** The environment variable that gives every replica the same cookie key (SPEC 6.4). */
export const COOKIE_SECRET_ENV = "STICKYLB_COOKIE_SECRET";

/** Kubernetes objects cannot name a cookie secret; replicas share one through the environment. */
function withCookieSecret(model: ConfigModel): ConfigModel {
  return process.env[COOKIE_SECRET_ENV] === undefined
    ? model
    : { ...model, cookieSecret: { env: COOKIE_SECRET_ENV } };
}

/** Resolves with the exit code. */
export async function runController(
  options: ControllerRunOptions,
  err: NodeJS.WritableStream,
): Promise<number> {
  const { log } = options;
  let config: KubeConfig;
  try {
    config = loadKubeConfig(options.kubeconfig);
    if (config.getCurrentCluster() === null) throw new Error("the kubeconfig names no current cluster");
  } catch (e) {
    err.write(`stickylb: cannot load Kubernetes credentials: ${(e as Error).message}\n`);
    return 2;
  }
  const runtime = new Runtime({
    clock: options.clock,
    log,
    drainTimeoutMs: options.drainTimeoutMs,
    stateDir: options.stateDir,
  });
  await runtime.apply({ listeners: [], pools: [] });
  const controller = new KubernetesController({
    config,
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    converter: { listenAddress: options.listenAddress, ingressClass: options.ingressClass },
    ...(options.publishAddress === undefined ? {} : { publishAddress: options.publishAddress }),
    log,
    apply: async (model: ConfigModel) => {
      try {
        await runtime.apply(withCookieSecret(model));
        runtime.reloads.ok++;
      } catch (e) {
        runtime.reloads.error++;
        throw e;
      }
    },
  });
  return serveUntilStopped({
    // The controller starts once the admin listener is up (readiness is visible from the start).
    started: () => {
      controller.start();
      log.info(
        {
          namespace: options.namespace ?? "(all)",
          ingressClass: options.ingressClass,
          server: config.getCurrentCluster()?.server,
        },
        "stickylb started (kubernetes controller)",
      );
    },
    admin: options.admin,
    adminToken: options.adminToken,
    version: options.version,
    log,
    source: runtimeAdminSource(runtime, () => controller.configErrors),
    openConnections: () => runtime.listeners.openCount(),
    // SIGHUP forces a rebuild from the caches.
    reload: () => controller.markDirty(),
    stopData: async () => {
      await controller.stop();
      await runtime.stop();
      log.info({ configErrors: Object.fromEntries(controller.configErrors) }, "controller stopped");
    },
  });
}
