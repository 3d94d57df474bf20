/**
 * What the leader writes back on the objects it serves (docs/kubernetes.md,
 * docs/gateway-api.md): `status.loadBalancer` of Services and Ingresses (the `--publish-address`,
 * or what the `--publish-service` Service shows) and the Gateway API status conditions.
 */
import type { ConfigError } from "../config/index.js";
import { condition } from "./gateway-conditions.js";
import type { GatewayStatusWriter } from "./gateway-status-writer.js";
import { asList, asObj, isObj, type KubeObject } from "./objects.js";
import type { ObjectResult } from "./result.js";
import type { PublishedAddress, StatusWriter } from "./status-writer.js";

export interface PublishedService {
  readonly namespace: string;
  readonly name: string;
}

export class ControllerStatus {
  constructor(
    private readonly loadBalancerStatus: StatusWriter | undefined,
    private readonly gatewayStatus: GatewayStatusWriter,
    private readonly publishAddress: string | undefined,
    private readonly publishService: PublishedService | undefined,
  ) {}

  /** `status.loadBalancer` of every Service and Ingress served, once there is an address to show. */
  publishLoadBalancers(served: readonly ObjectResult[], byKey: ReadonlyMap<string, KubeObject>): void {
    const addresses = this.publishedAddresses(byKey);
    if (this.loadBalancerStatus !== undefined && addresses.length > 0)
      this.loadBalancerStatus.publish(
        served.flatMap((r) =>
          // Gateway API objects report their addresses through their own status (gateway-status).
          r.kind === "Service" || r.kind === "Ingress"
            ? [
                {
                  kind: r.kind,
                  namespace: r.namespace,
                  name: r.name,
                  current: byKey.get(r.key)?.doc,
                },
              ]
            : [],
        ),
        addresses,
      );
  }

  /** `--publish-address`, else what the `--publish-service` Service shows (nothing until it shows something). */
  private publishedAddresses(byKey: ReadonlyMap<string, KubeObject>): PublishedAddress[] {
    if (this.publishAddress !== undefined) return [{ ip: this.publishAddress }];
    const named = this.publishService;
    if (named === undefined) return [];
    const service = byKey.get(`Service/${named.namespace}/${named.name}`);
    const out: PublishedAddress[] = [];
    for (const entry of asList(asObj(asObj(service?.doc.status).loadBalancer).ingress)) {
      if (!isObj(entry)) continue;
      const ip = typeof entry.ip === "string" && entry.ip !== "" ? entry.ip : undefined;
      const hostname =
        typeof entry.hostname === "string" && entry.hostname !== "" ? entry.hostname : undefined;
      if (ip !== undefined || hostname !== undefined)
        out.push({ ...(ip === undefined ? {} : { ip }), ...(hostname === undefined ? {} : { hostname }) });
    }
    return out;
  }

  /**
   * The Gateway API status of every object converted now (not the last good result: status says
   * what is wrong with the object as it is). A Gateway converted cleanly but left out when
   * assembled (its port is taken) is not Programmed.
   */
  publishGatewayStatus(
    results: readonly ObjectResult[],
    served: readonly ObjectResult[],
    clashes: readonly ConfigError[],
    byKey: ReadonlyMap<string, KubeObject>,
  ): void {
    const servedKeys = new Set(served.map((r) => r.key));
    const targets = results.flatMap((r) => {
      if (r.wantedStatus === undefined) return [];
      let wanted = r.wantedStatus;
      if (r.kind === "Gateway" && r.errors.length === 0 && !servedKeys.has(r.key)) {
        const clash = clashes.find((c) => c.object === r.key)?.message ?? "left out";
        wanted = {
          ...wanted,
          status: {
            ...wanted.status,
            conditions: [
              condition("Accepted", true, "Accepted", "accepted by stickylb"),
              condition("Programmed", false, "AddressNotUsable", clash),
            ],
          },
        };
      }
      return [{ wanted, current: byKey.get(r.key)?.doc }];
    });
    this.gatewayStatus.publish(targets);
  }
}
