/**
 * Writes `status.loadBalancer.ingress: [{ip}]` (from `--publish-address`) on the Services and
 * Ingresses served, through the status subresource with a JSON merge patch. Objects already
 * showing the address are left alone, so a status write, which itself comes back as a watch
 * event, does not loop.
 */
import {
  CoreV1Api,
  type KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import type { Logger } from "../../core/log.js";
import { asList, asObj, isObj } from "./objects.js";

export interface StatusTarget {
  readonly kind: "Service" | "Ingress";
  readonly namespace: string;
  readonly name: string;
  /** The object as the informer holds it, to compare. */
  readonly current: Record<string, unknown> | undefined;
}

const showsOnly = (current: Record<string, unknown> | undefined, ip: string): boolean => {
  const ingress = asList(asObj(asObj(current?.status).loadBalancer).ingress);
  return ingress.length === 1 && isObj(ingress[0]) && ingress[0].ip === ip;
};

export class StatusWriter {
  private readonly core: CoreV1Api;
  private readonly networking: NetworkingV1Api;
  /** `KIND/NS/NAME` → the ip being written, so one write is in flight per object. */
  private readonly pending = new Map<string, string>();

  constructor(
    config: KubeConfig,
    private readonly ip: string,
    private readonly log: Logger,
    private readonly failed: (error: unknown) => void,
  ) {
    this.core = config.makeApiClient(CoreV1Api);
    this.networking = config.makeApiClient(NetworkingV1Api);
  }

  publish(targets: readonly StatusTarget[]): void {
    for (const target of targets) {
      const key = `${target.kind}/${target.namespace}/${target.name}`;
      if (showsOnly(target.current, this.ip) || this.pending.get(key) === this.ip) continue;
      this.pending.set(key, this.ip);
      void this.write(target).finally(() => this.pending.delete(key));
    }
  }

  private async write(target: StatusTarget): Promise<void> {
    const body = { status: { loadBalancer: { ingress: [{ ip: this.ip }] } } };
    const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
    const request = { name: target.name, namespace: target.namespace, body };
    try {
      if (target.kind === "Service") await this.core.patchNamespacedServiceStatus(request, merge);
      else await this.networking.patchNamespacedIngressStatus(request, merge);
      this.log.info(
        { object: `${target.kind}/${target.namespace}/${target.name}`, ip: this.ip },
        "status.loadBalancer written",
      );
    } catch (error) {
      this.failed(error);
      this.log.warn(
        { err: error, code: "SLB_ERR_K8S_API", object: `${target.kind}/${target.namespace}/${target.name}` },
        "could not write status.loadBalancer; retried on the next change",
      );
    }
  }
}
