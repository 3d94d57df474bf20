/** The leader election Lease on the API server (`coordination.k8s.io/v1`), through the client. */
import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from "@kubernetes/client-node";
import { LeaseConflict, type LeaseRecord, type LeaseSpec, type LeaseStore } from "./leader-election.js";

/** The Lease's name: one per cluster (or per namespace the controllers run in). */
export const LEASE_NAME = "stickylb-leader";

const statusOf = (err: unknown): number | undefined => {
  const code = (err as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
};

/** MicroTime fields arrive as strings (or Dates); kept as text, compared as text. */
const timeText = (value: unknown): string | undefined =>
  value instanceof Date ? value.toISOString() : typeof value === "string" ? value : undefined;

// The client serialises MicroTime fields through `toJSON`; V1MicroTime writes six fraction digits
// as the API server requires (a plain Date's three are refused).
const micro = (text: string | undefined): V1MicroTime | undefined =>
  text === undefined ? undefined : new V1MicroTime(text);

function toRecord(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  return {
    resourceVersion: lease.metadata?.resourceVersion ?? "",
    spec: {
      ...(spec.holderIdentity === undefined ? {} : { holderIdentity: spec.holderIdentity }),
      ...(spec.leaseDurationSeconds === undefined ? {} : { leaseDurationSeconds: spec.leaseDurationSeconds }),
      ...(timeText(spec.acquireTime) === undefined ? {} : { acquireTime: timeText(spec.acquireTime)! }),
      ...(timeText(spec.renewTime) === undefined ? {} : { renewTime: timeText(spec.renewTime)! }),
      ...(spec.leaseTransitions === undefined ? {} : { leaseTransitions: spec.leaseTransitions }),
    },
  };
}

export class ApiLeaseStore implements LeaseStore {
  private readonly api: CoordinationV1Api;

  constructor(
    config: KubeConfig,
    private readonly namespace: string,
    private readonly name: string = LEASE_NAME,
  ) {
    this.api = config.makeApiClient(CoordinationV1Api);
  }

  private body(spec: LeaseSpec, resourceVersion?: string): V1Lease {
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: this.name,
        namespace: this.namespace,
        ...(resourceVersion === undefined ? {} : { resourceVersion }),
      },
      spec: {
        ...(spec.holderIdentity === undefined ? {} : { holderIdentity: spec.holderIdentity }),
        ...(spec.leaseDurationSeconds === undefined
          ? {}
          : { leaseDurationSeconds: spec.leaseDurationSeconds }),
        ...(spec.acquireTime === undefined ? {} : { acquireTime: micro(spec.acquireTime)! }),
        ...(spec.renewTime === undefined ? {} : { renewTime: micro(spec.renewTime)! }),
        ...(spec.leaseTransitions === undefined ? {} : { leaseTransitions: spec.leaseTransitions }),
      },
    };
  }

  async get(): Promise<LeaseRecord | undefined> {
    try {
      return toRecord(await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace }));
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async create(spec: LeaseSpec): Promise<LeaseRecord> {
    try {
      return toRecord(
        await this.api.createNamespacedLease({ namespace: this.namespace, body: this.body(spec) }),
      );
    } catch (err) {
      if (statusOf(err) === 409) throw new LeaseConflict("the Lease was created by another replica");
      throw err;
    }
  }

  async update(spec: LeaseSpec, resourceVersion: string): Promise<LeaseRecord> {
    try {
      return toRecord(
        await this.api.replaceNamespacedLease({
          name: this.name,
          namespace: this.namespace,
          body: this.body(spec, resourceVersion),
        }),
      );
    } catch (err) {
      if (statusOf(err) === 409) throw new LeaseConflict("the Lease changed since it was read");
      throw err;
    }
  }
}
