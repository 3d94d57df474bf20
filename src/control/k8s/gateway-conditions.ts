/**
 * Status conditions as the Gateway API defines them (`Accepted`, `Programmed`, `ResolvedRefs`,
 * `Conflicted`, with the standard reasons). The converter computes the status it wants on each
 * object; the leader writes it back when it differs (docs/gateway-api.md).
 */
import type { Obj } from "./objects.js";

export const GATEWAY_GROUP = "gateway.networking.k8s.io";

export interface Condition {
  readonly type: string;
  readonly status: "True" | "False";
  readonly reason: string;
  readonly message: string;
}

export const condition = (type: string, ok: boolean, reason: string, message: string): Condition => ({
  type,
  status: ok ? "True" : "False",
  reason,
  message,
});

/** The status an object should have, without timestamps (the writer adds them). */
export interface WantedStatus {
  readonly kind: "GatewayClass" | "Gateway" | "HTTPRoute";
  readonly namespace: string;
  readonly name: string;
  /** `metadata.generation`, echoed as each condition's observedGeneration. */
  readonly generation: number;
  readonly status: Obj;
}

export function generationOf(doc: Obj): number {
  const generation = (doc.metadata as Obj | undefined)?.generation;
  return typeof generation === "number" ? generation : 0;
}
