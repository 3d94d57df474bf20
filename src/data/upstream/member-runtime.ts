import type { Candidate, MemberId } from "../../core/member.js";
import { endpointOf, memberIdOf } from "../../core/member.js";

/** Something open towards or on behalf of a member that a drain may have to close. */
export interface Closable {
  destroy(): void;
}

/**
 * The runtime state of one member: health, weight, drain state and counters. It is keyed by
 * {@link MemberId} in the {@link MemberRegistry} and outlives configuration snapshots, so a reload
 * keeps health, counters and open connections of members that stay (docs/reference/behaviour.md#reload-and-drain).
 */
export class MemberRuntime implements Candidate {
  readonly id: MemberId;
  readonly endpoint: string;
  weight: number;
  /** A name for people (native `name`, or the Pod's name); logs and status only, never a label. */
  name: string | undefined = undefined;
  /** Written only through the registry's health status port. */
  healthy = true;
  /** Why the health checks took the member out (active probe or passive); undefined while healthy. */
  downReason: string | undefined = undefined;
  /** Kubernetes terminating-but-serving: existing bindings stay, no new clients. */
  draining = false;
  /** No longer in the configuration: existing connections drain, bindings are redispatched. */
  removed = false;
  /** When a removed member's open connections are closed (ms since epoch). */
  drainDeadline = Number.POSITIVE_INFINITY;
  /** Open connections (L4) or in-flight requests (L7). */
  active = 0;
  /** Connections (L4) or requests (L7) ever sent to this member. */
  total = 0;
  /** L4 bytes from clients to this member and back (counted when a connection closes; UDP per datagram). */
  bytesIn = 0;
  bytesOut = 0;
  /** Consecutive passive or active failures, for the health state machine. */
  consecutiveFailures = 0;
  /** Open client-side connections to close when the drain timeout ends. */
  readonly open = new Set<Closable>();

  constructor(
    readonly pool: string,
    readonly address: string,
    readonly port: number,
    weight: number,
  ) {
    this.id = memberIdOf(pool, address, port);
    this.endpoint = endpointOf(address, port);
    this.weight = weight;
  }

  /**
   * Counts one connection (L4) or request (L7) towards this member, and records the client side
   * so that a drain can close it, until the returned release is called. Release is idempotent:
   * error and close paths may both call it.
   */
  claim(client: Closable): () => void {
    this.enter(client);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.leave(client);
    };
  }

  /**
   * {@link claim} without the release closure, for the HTTP exchange: one claim per request, and
   * the request path allocates no closure (docs/performance.md). The caller must call
   * {@link leave} with the same client exactly once.
   */
  enter(client: Closable): void {
    this.active++;
    this.total++;
    this.open.add(client);
  }

  /** Ends what {@link enter} counted. */
  leave(client: Closable): void {
    this.active--;
    this.open.delete(client);
  }

  /** May take new clients: healthy, weight > 0, not draining, not removed (docs/glossary.md). */
  get eligible(): boolean {
    return this.healthy && this.weight > 0 && !this.draining && !this.removed;
  }

  /**
   * May keep a client already bound to it (docs/reference/behaviour.md#failure-of-a-bound-member): a draining member keeps its bindings; an
   * unhealthy, removed or weight-0 member does not.
   */
  get keepsBindings(): boolean {
    return this.healthy && this.weight > 0 && !this.removed;
  }
}
