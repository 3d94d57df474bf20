/**
 * `stickylb run --kubernetes`: the runtime, the admin listener and the controller, with the same
 * signals as `run -f` (SIGTERM/SIGINT drain and exit 0; SIGHUP forces a rebuild from the caches).
 * It starts serving with an empty configuration and never exits on an API error: an unreachable
 * API server is retried with backoff.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import { runtimeAdminSource } from "../admin/admin-source.js";
import { KubernetesController } from "../control/k8s/controller.js";
import { ApiEventSink, EventRecorder } from "../control/k8s/event-recorder.js";
import { loadKubeConfig } from "../control/k8s/kube-config.js";
import { DEFAULT_LEADER_TIMINGS, LeaderElector, type LeaderTimings } from "../control/k8s/leader-election.js";
import { ApiLeaseStore, LEASE_NAME } from "../control/k8s/lease-store.js";
import type { Clock } from "../core/clock.js";
import type { Logger } from "../core/log.js";
import type { ConfigModel } from "../core/model.js";
import type { KernelSeamFactory } from "../kernel/kernel-wiring.js";
import { serveUntilStopped } from "./process-wiring.js";
import { Runtime } from "./runtime.js";

export interface ControllerRunOptions {
  readonly kubeconfig?: string;
  readonly namespace?: string;
  /** `--ingress-class`, repeatable; default `stickylb` and `cce`. */
  readonly ingressClasses: readonly string[];
  readonly loadBalancerClass: string;
  /** `--gateway-class-controller`: the GatewayClass controllerName served. */
  readonly gatewayClassController: string;
  readonly listenAddress: string;
  readonly publishAddress?: string;
  /** `NAMESPACE/NAME` of the Service whose status gives the published address. */
  readonly publishService?: { readonly namespace: string; readonly name: string };
  /** Elect one leader to write status (default on). */
  readonly leaderElect: boolean;
  /** A second, read-only listener for `/metrics`, `/healthz`, `/readyz`. */
  readonly metricsAddress?: { address: string; port: number };
  readonly cookieSecretFile?: string | undefined;
  /** `--state-store URL`: bindings and the cookie key shared through Redis/Valkey. */
  readonly stateStore?: string | undefined;
  readonly admin: { address: string; port: number } | "off";
  /** Bearer token of the admin API (required when it is not on loopback; resolved by the caller). */
  readonly adminToken?: string;
  readonly version: string;
  readonly drainTimeoutMs: number;
  readonly stateDir: string;
  readonly clock: Clock;
  readonly log: Logger;
  /** `--l4-dataplane nftables`: the started kernel plane the runtime programs (docs/kernel-dataplane.md). */
  readonly kernel?: KernelSeamFactory;
}

/** The environment variable that gives every replica the same cookie key (docs/kubernetes.md). */
export const COOKIE_SECRET_ENV = "STICKYLB_COOKIE_SECRET";

/**
 * Kubernetes objects cannot name a cookie secret; replicas share one through a mounted file
 * (`--cookie-secret-file`) or the environment.
 */
function withCookieSecret(model: ConfigModel, file: string | undefined): ConfigModel {
  if (file !== undefined) return { ...model, cookieSecret: { file } };
  return process.env[COOKIE_SECRET_ENV] === undefined
    ? model
    : { ...model, cookieSecret: { env: COOKIE_SECRET_ENV } };
}

/**
 * For tests only: `LEASE_MS,RENEW_MS,RETRY_MS` instead of 15 s, 10 s, 2 s, so that a takeover can
 * be watched end to end in seconds. Not a flag: production has no reason to change them.
 */
export const LEADER_TIMINGS_ENV = "STICKYLB_TEST_LEADER_TIMINGS";

function leaderTimings(env: NodeJS.ProcessEnv): LeaderTimings {
  const parts = (env[LEADER_TIMINGS_ENV] ?? "").split(",").map(Number);
  const [lease, renew, retry] = parts;
  if (parts.length !== 3 || !parts.every((n) => Number.isInteger(n) && n > 0)) return DEFAULT_LEADER_TIMINGS;
  return { leaseDurationMs: lease!, renewDeadlineMs: renew!, retryPeriodMs: retry! };
}

/** `$POD_NAME` (else the host name) and a random suffix, so two processes of one Pod differ. */
export function leaderIdentity(env: NodeJS.ProcessEnv): string {
  const base = env.POD_NAME !== undefined && env.POD_NAME !== "" ? env.POD_NAME : hostname();
  return `${base}_${randomBytes(4).toString("hex")}`;
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
    ...(options.stateStore === undefined ? {} : { stateStoreUrl: options.stateStore }),
    ...(options.kernel === undefined ? {} : { kernel: options.kernel.create }),
  });
  const kernelAdmin = options.kernel?.wiring()?.adminView();
  await runtime.apply({ listeners: [], pools: [] });
  const identity = leaderIdentity(process.env);
  const leaseNamespace = process.env.POD_NAMESPACE || "default";
  let elector: LeaderElector | undefined;
  // Without election this process is the only writer; with it, nobody leads until the Lease says so.
  const leading = (): boolean => !options.leaderElect || (elector?.isLeader ?? false);
  const controller: KubernetesController = new KubernetesController({
    config,
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    converter: {
      listenAddress: options.listenAddress,
      ingressClasses: options.ingressClasses,
      loadBalancerClass: options.loadBalancerClass,
      gatewayClassController: options.gatewayClassController,
    },
    ...(options.publishAddress === undefined ? {} : { publishAddress: options.publishAddress }),
    ...(options.publishService === undefined ? {} : { publishService: options.publishService }),
    isLeader: leading,
    events: new EventRecorder(new ApiEventSink(config, identity), options.clock, log),
    unboundListeners: () =>
      runtime.listeners.unbound().map((u) => ({
        object: u.model.source.object,
        message: `listener ${u.model.name} (${u.model.protocol} ${u.model.address}:${u.model.port}) cannot bind: ${u.error}; retried with backoff`,
      })),
    log,
    clock: options.clock,
    apply: async (model: ConfigModel) => {
      try {
        await runtime.apply(withCookieSecret(model, options.cookieSecretFile));
        runtime.reloads.ok++;
      } catch (e) {
        runtime.reloads.error++;
        throw e;
      }
    },
  });
  // A listener that starts or stops failing to bind changes the Events to post, not the model.
  runtime.listeners.observeBinds(() => controller.markDirty());
  if (options.leaderElect) {
    elector = new LeaderElector(
      new ApiLeaseStore(config, leaseNamespace),
      identity,
      leaderTimings(process.env),
      options.clock,
      log,
      () => controller.leadershipChanged(),
    );
  }
  return serveUntilStopped({
    // The controller starts once the admin listener is up (readiness is visible from the start).
    started: () => {
      controller.start();
      elector?.start();
      log.info(
        {
          namespace: options.namespace ?? "(all)",
          ingressClasses: options.ingressClasses,
          loadBalancerClass: options.loadBalancerClass,
          gatewayClassController: options.gatewayClassController,
          leaderElection: options.leaderElect
            ? { lease: `${leaseNamespace}/${LEASE_NAME}`, identity }
            : "off",
          server: config.getCurrentCluster()?.server,
        },
        "stickylb started (kubernetes controller)",
      );
    },
    admin: options.admin,
    adminToken: options.adminToken,
    metricsAddress: options.metricsAddress,
    version: options.version,
    log,
    source: {
      ...runtimeAdminSource(runtime, () => controller.configErrors),
      leader: leading,
      ...(kernelAdmin === undefined ? {} : { kernel: kernelAdmin }),
    },
    openConnections: () => runtime.listeners.openCount(),
    // SIGHUP forces a rebuild from the caches.
    reload: () => controller.markDirty(),
    stopData: async () => {
      await elector?.stop();
      await controller.stop();
      await runtime.stop();
      log.info({ configErrors: Object.fromEntries(controller.configErrors) }, "controller stopped");
    },
  });
}
