/**
 * Writes `status.loadBalancer.ingress` (`[{ip}]` from `--publish-address`, or the entries of the
 * `--publish-service` Service) on the Services and Ingresses served, through the status
 * subresource with a JSON merge patch. Objects already showing the same are left alone: a status
 * write comes back as a watch event and a rebuild, so writing only differences keeps that from
 * looping. Only the leader calls `publish` (see leader-election.ts).
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

/** One entry of `status.loadBalancer.ingress`. */
export interface PublishedAddress {
  readonly ip?: string;
  readonly hostname?: string;
}

const entryText = (entry: unknown): string => {
  const e = isObj(entry) ? entry : {};
  return `${typeof e.ip === "string" ? e.ip : ""}|${typeof e.hostname === "string" ? e.hostname : ""}`;
};

/** The ip/hostname pairs the object shows, compared as text (other fields, such as ports, are not ours). */
export const shownAddresses = (current: Record<string, unknown> | undefined): string =>
  asList(asObj(asObj(current?.status).loadBalancer).ingress)
    .map(entryText)
    .join(",");

const showsAlready = (
  current: Record<string, unknown> | undefined,
  wanted: readonly PublishedAddress[],
): boolean => shownAddresses(current) === wanted.map(entryText).join(",");

export class StatusWriter {
  private readonly core: CoreV1Api;
  private readonly networking: NetworkingV1Api;
  /** `KIND/NS/NAME` → the addresses being written, so one write is in flight per object. */
  private readonly pending = new Map<string, string>();

  constructor(
    config: KubeConfig,
    private readonly log: Logger,
    private readonly failed: (error: unknown) => void,
  ) {
    this.core = config.makeApiClient(CoreV1Api);
    this.networking = config.makeApiClient(NetworkingV1Api);
  }

  publish(targets: readonly StatusTarget[], addresses: readonly PublishedAddress[]): void {
    const wanted = addresses.map(entryText).join(",");
    for (const target of targets) {
      const key = `${target.kind}/${target.namespace}/${target.name}`;
      if (showsAlready(target.current, addresses) || this.pending.get(key) === wanted) continue;
      this.pending.set(key, wanted);
      void this.write(target, addresses).finally(() => this.pending.delete(key));
    }
  }

  private async write(target: StatusTarget, addresses: readonly PublishedAddress[]): Promise<void> {
    const body = { status: { loadBalancer: { ingress: addresses.map((a) => ({ ...a })) } } };
    const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
    const request = { name: target.name, namespace: target.namespace, body };
    try {
      if (target.kind === "Service") await this.core.patchNamespacedServiceStatus(request, merge);
      else await this.networking.patchNamespacedIngressStatus(request, merge);
      this.log.info(
        { object: `${target.kind}/${target.namespace}/${target.name}`, addresses },
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
