/**
 * Writes the Gateway API status the converter wants (gateway-conditions.ts) on GatewayClasses,
 * Gateways and HTTPRoutes, through the status subresource with a JSON merge patch. Conditions
 * keep their `lastTransitionTime` while their status stays the same, and an object already
 * showing what is wanted is not written: each write comes back as a watch event and a rebuild.
 * An HTTPRoute's `parents` entries of other controllers are kept. Only the leader calls `publish`.
 */

import { CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { type Clock, systemClock } from "../../core/clock.js";
import type { Logger } from "../../core/log.js";
import { type Condition, GATEWAY_GROUP, type WantedStatus } from "./gateway-conditions.js";
import { asList, asObj, type Obj } from "./objects.js";

const VERSION = "v1";
const PLURAL: Readonly<Record<WantedStatus["kind"], string>> = {
  GatewayClass: "gatewayclasses",
  Gateway: "gateways",
  HTTPRoute: "httproutes",
};

type Stamped = Condition & { lastTransitionTime: string; observedGeneration: number };

/** Wanted conditions with times kept from the current ones whose status did not change. */
function stamp(wanted: readonly Condition[], current: unknown, generation: number, now: string): Stamped[] {
  const before = asList(current).map(asObj);
  return wanted.map((c) => {
    const old = before.find((b) => b.type === c.type);
    const kept = old !== undefined && old.status === c.status && typeof old.lastTransitionTime === "string";
    return {
      ...c,
      observedGeneration: generation,
      lastTransitionTime: kept ? String(old.lastTransitionTime) : now,
    };
  });
}

/** Stamps every `conditions` list inside a wanted status, against the same place in the current one. */
function stampAll(wanted: unknown, current: unknown, generation: number, now: string): unknown {
  if (Array.isArray(wanted)) {
    const list = asList(current).map(asObj);
    return wanted.map((item, i) => {
      const entry = asObj(item);
      // Listener and parent entries are matched by name / parentRef rather than by position.
      const match =
        list.find((c) => entry.name !== undefined && c.name === entry.name) ??
        list.find(
          (c) =>
            entry.parentRef !== undefined && JSON.stringify(c.parentRef) === JSON.stringify(entry.parentRef),
        ) ??
        list[i];
      return stampAll(item, match, generation, now);
    });
  }
  if (wanted === null || typeof wanted !== "object") return wanted;
  const out: Obj = {};
  for (const [key, value] of Object.entries(wanted)) {
    out[key] =
      key === "conditions"
        ? stamp(value as Condition[], asObj(current)[key], generation, now)
        : stampAll(value, asObj(current)[key], generation, now);
  }
  return out;
}

/** The wanted status as the object should show it, keeping other controllers' route parents. */
export function statusToWrite(
  target: WantedStatus,
  current: Obj | undefined,
  controller: string,
  now: string,
): Obj {
  const currentStatus = asObj(current?.status);
  const stamped = asObj(stampAll(target.status, currentStatus, target.generation, now));
  if (target.kind !== "HTTPRoute") return stamped;
  const others = asList(currentStatus.parents).filter((p) => asObj(p).controllerName !== controller);
  return { ...stamped, parents: [...others, ...asList(stamped.parents)] };
}

/** Whether the current status already says the same (times aside). */
export function showsAlready(current: Obj | undefined, wanted: Obj): boolean {
  const strip = (value: unknown): unknown =>
    JSON.parse(
      JSON.stringify(value ?? {}, (key, v: unknown) => (key === "lastTransitionTime" ? undefined : v)),
    );
  return JSON.stringify(strip(asObj(current?.status))) === JSON.stringify(strip(wanted));
}

export class GatewayStatusWriter {
  private readonly custom: CustomObjectsApi;
  /** `KIND/NS/NAME` → the status being written, so one identical write is in flight per object. */
  private readonly pending = new Map<string, string>();
  /** Writes made, for tests and logs. */
  writes = 0;

  constructor(
    config: KubeConfig,
    private readonly controller: string,
    private readonly log: Logger,
    private readonly failed: (error: unknown) => void,
    private readonly clock: Clock = systemClock,
  ) {
    this.custom = config.makeApiClient(CustomObjectsApi);
  }

  publish(targets: readonly { wanted: WantedStatus; current: Obj | undefined }[]): void {
    const now = new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z");
    for (const { wanted, current } of targets) {
      if (current === undefined) continue;
      const status = statusToWrite(wanted, current, this.controller, now);
      if (showsAlready(current, status)) continue;
      const key = `${wanted.kind}/${wanted.namespace}/${wanted.name}`;
      const text = JSON.stringify(status);
      if (this.pending.get(key) === text) continue;
      this.pending.set(key, text);
      void this.write(wanted, status).finally(() => this.pending.delete(key));
    }
  }

  private async write(target: WantedStatus, status: Obj): Promise<void> {
    const object = `${target.kind}/${target.namespace === "" ? "" : `${target.namespace}/`}${target.name}`;
    const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
    const common = {
      group: GATEWAY_GROUP,
      version: VERSION,
      plural: PLURAL[target.kind],
      name: target.name,
      body: { status },
    };
    try {
      if (target.kind === "GatewayClass") await this.custom.patchClusterCustomObjectStatus(common, merge);
      else
        await this.custom.patchNamespacedCustomObjectStatus(
          { ...common, namespace: target.namespace },
          merge,
        );
      this.writes++;
      this.log.info({ object }, "Gateway API status written");
    } catch (error) {
      this.failed(error);
      this.log.warn(
        { err: error, code: "SLB_ERR_K8S_API", object },
        "could not write Gateway API status; retried on the next change",
      );
    }
  }
}
