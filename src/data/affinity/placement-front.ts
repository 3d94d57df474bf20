/**
 * The placement front: the one routine that places a client on a member, for every persistence
 * type and every protocol (TCP, UDP, HTTP, WebSocket upgrades). In order:
 *
 * 1. **proposal** — the pool's {@link Stickiness} (its key extractor) says what the client's key
 *    proposes: a bound member, nothing, an expired or invalid key, a member that is gone;
 * 2. **resolve** — the resolver honours a bound member only while it may keep its clients, else
 *    the balancing policy picks (`resolver.ts`);
 * 3. **record** — the affinity decision and a refusal are counted, a new placement is bound;
 * 4. **rebind** — when the placed member fails and a retry moves the client, the new member is
 *    bound and a `hit` becomes a `redispatch` (the client did not stay where its key said).
 *
 * The result is a {@link PlacedClient}, the one object the proxy keeps per connection, flow or
 * request for everything affinity still has to do (moved, answered, hold/release). It carries the
 * client's facts as its own fields, so that placing an HTTP request allocates one object, not two
 * (docs/performance.md).
 */
import type { MemberRuntime } from "../upstream/member-runtime.js";
import {
  type AffinityResult,
  type Placement,
  type PlacementPool,
  type Proposal,
  resolvePlacement,
} from "./resolver.js";
import type { ClientFacts, KeyPeek, Stickiness, StickyClient } from "./stickiness.js";

/** Counters of one pool that outlive snapshots (kept by pool name with the pool's state). */
export class PoolCounters {
  readonly decisions: Record<AffinityResult, number> = {
    hit: 0,
    miss: 0,
    expired: 0,
    invalid: 0,
    redispatch: 0,
  };
  /** Clients turned away because no member was eligible (HTTP 503, TCP close, UDP drop). */
  noMember = 0;
}

/** What the front needs of a pool: members, the policy, its stickiness and its counters. */
export interface FrontPool extends PlacementPool {
  readonly stickiness: Stickiness;
  readonly counters: PoolCounters;
  /** What `pick` would return now, changing nothing (the policy's dry run). */
  peek(clientIp: string): MemberRuntime | undefined;
}

/** One client's placement and what affinity still has to do for it; also the client's facts. */
export class PlacedClient implements StickyClient, ClientFacts {
  key: string | undefined = undefined;
  issuedAt = 0;
  sessionStart: number | undefined = undefined;
  /** The member placed; undefined when no member was eligible (the client is refused). */
  member: MemberRuntime | undefined = undefined;
  /** The affinity decision; undefined when the client is not sticky in this pool. */
  result: AffinityResult | undefined = undefined;
  /** A new placement (or a move): the member that takes the client must be remembered. */
  rebind = false;
  /** HTTP: the response taught a binding the shared store has not acknowledged yet (see `answered`). */
  storeAck: Promise<void> | undefined = undefined;
  private held = false;

  constructor(
    private readonly front: FrontPool,
    readonly clientIp: string,
    readonly http: boolean,
    readonly cookieHeader: string | undefined,
    readonly requestRaw: readonly string[],
    readonly https: boolean,
    readonly now: number,
  ) {}

  /** What the listener knew of the client: this object's own fields. */
  get facts(): ClientFacts {
    return this;
  }

  /**
   * The placed member failed before it served anything and a retry gives the client to `to`:
   * bind it, and count the decision as a `redispatch` — the client did not stay on its member.
   */
  moved(to: MemberRuntime): void {
    if (this.result === "hit") {
      const decisions = this.front.counters.decisions;
      decisions.hit--;
      decisions.redispatch++;
      this.result = "redispatch";
    }
    this.rebind = true;
    this.front.stickiness.bind(this, to);
  }

  /**
   * {@link moved}, made in the shared store first when the pool has one (as at placement,
   * `moveBound`): resolves to the member to attempt — `to`, or the member another replica moved
   * this client to first, where it may take the client — within the store's budget, never
   * rejected. `to` synchronously when there is nothing to ask.
   */
  moveTo(to: MemberRuntime): MemberRuntime | Promise<MemberRuntime> {
    const from = this.member;
    const asked = from === undefined ? undefined : this.front.stickiness.rebind?.(this, from.id, to);
    if (asked === undefined) {
      this.moved(to);
      return to;
    }
    return asked.then((held) => {
      const first = held === undefined || held === to.id ? undefined : this.front.member(held);
      // Never back to the member that just failed, whatever another replica wrote.
      const next = first !== undefined && first !== from && first.keepsBindings ? first : to;
      this.moved(next);
      return next;
    });
  }

  /**
   * HTTP: `member` answered with these raw response header pairs; returns the header pairs
   * (`[name, value, …]`: a `Set-Cookie`, a session token header) to add to its response. When the
   * response taught a new or changed binding that a shared store must acknowledge, `storeAck` is
   * then a promise (settled within the store's budget, never rejected) that the response head
   * waits for; otherwise undefined, and the head goes on at once.
   */
  answered(member: MemberRuntime, responseRaw: readonly string[]): readonly string[] {
    return this.front.stickiness.answered(this, member, responseRaw);
  }

  /** L4: an open connection or flow holds its binding until {@link release}. */
  hold(): void {
    if (this.held) return;
    this.held = true;
    this.front.stickiness.hold(this);
  }

  /** Idempotent: error and close paths may both call it. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    this.front.stickiness.release(this);
  }
}

/**
 * Places a client (steps 1–3 above). Synchronous whenever the proposal comes from the local table:
 * a hit, a client that is not sticky, or a pool with no shared store. A new placement (`none` or
 * `expired`) in a pool whose bindings are shared is placed by the policy here and then *claimed* in
 * the store in one round trip (`Stickiness.claim`): the store keeps this member unless another
 * replica bound the client first, in which case that member is honoured (a `hit`, if it may take
 * the client; else the policy's pick stays and is rebound with compare-and-set). So a binding is in
 * the store before the client gets its first byte. Then a promise comes back, settled within the
 * store's budget (50 ms) and never rejected; the caller checks `instanceof Promise`, so a hit costs
 * no await. A caller that awaits must check afterwards that its client is still there. A client
 * whose bound member may not take it is moved in the store the same way (`moveBound`).
 */
export function placeClient(pool: FrontPool, facts: ClientFacts): PlacedClient | Promise<PlacedClient> {
  const { clientIp, http, cookieHeader, requestRaw, https, now } = facts;
  return place(pool, new PlacedClient(pool, clientIp, http, cookieHeader, requestRaw, https, now));
}

/**
 * {@link placeClient} for a client object the caller made: the HTTP path's own subclass, which
 * is also its routing outcome (`proxy/http-route.ts`). `client` must have been made for `pool`.
 */
export function place<C extends PlacedClient>(pool: FrontPool, client: C): C | Promise<C> {
  const proposal = pool.stickiness.propose(client);
  if (proposal?.kind === "bound" && pool.stickiness.rebind !== undefined)
    return moveBound(pool, client, proposal);
  if (proposal === undefined || (proposal.kind !== "none" && proposal.kind !== "expired"))
    return settle(pool, client, proposal);
  const placement = resolvePlacement(pool, proposal, client.clientIp);
  const picked = placement.member;
  const claimed = picked === undefined ? undefined : pool.stickiness.claim?.(client, picked);
  if (claimed === undefined) return record(pool, client, placement);
  return claimed.then((held) => {
    if (held === undefined || held === picked?.id) return record(pool, client, placement);
    // Another replica placed this client first: its member wins wherever it may take the client.
    const first = pool.member(held);
    if (first?.keepsBindings === true)
      return record(pool, client, { member: first, result: "hit", rebind: false });
    return record(pool, client, { member: picked, result: "redispatch", rebind: true });
  });
}

type BoundProposal = Extract<Proposal, { kind: "bound" }>;

/**
 * A client with a live binding, in a pool whose bindings are shared: a hit as usual; but when the
 * bound member may not take it (down, draining, gone) the move is made in the store before the
 * client is forwarded, so that replicas which each saw the member fail send the client to one new
 * member, not each to its own pick: the first move in the store wins, and the others follow it
 * where it may take the client (else their pick stays and is rebound with compare-and-set).
 */
function moveBound<C extends PlacedClient>(pool: FrontPool, client: C, bound: BoundProposal): C | Promise<C> {
  // The proposal itself is passed on: a hit (nearly every request) allocates nothing here.
  const placement = resolvePlacement(pool, bound, client.clientIp);
  const from = bound.member;
  const to = placement.member;
  const moved = placement.rebind && to !== undefined ? pool.stickiness.rebind?.(client, from, to) : undefined;
  if (moved === undefined) return record(pool, client, placement);
  return moved.then((held) => {
    if (held === undefined || held === to?.id) return record(pool, client, placement);
    const first = pool.member(held);
    if (first?.keepsBindings === true)
      return record(pool, client, { member: first, result: "redispatch", rebind: false });
    return record(pool, client, placement);
  });
}

/** Steps 2 and 3: resolve the proposal to a member and record the decision. */
function settle<C extends PlacedClient>(pool: FrontPool, client: C, proposal: Proposal | undefined): C {
  if (proposal === undefined) {
    client.member = pool.pick(client.clientIp);
    if (client.member === undefined) pool.counters.noMember++;
    return client;
  }
  return record(pool, client, resolvePlacement(pool, proposal, client.clientIp));
}

/** Step 3: count the decision, bind a new placement (a claimed one is already bound: no write). */
function record<C extends PlacedClient>(pool: FrontPool, client: C, placement: Placement): C {
  client.member = placement.member;
  client.result = placement.result;
  client.rebind = placement.rebind;
  if (placement.result !== undefined) pool.counters.decisions[placement.result]++;
  if (placement.rebind && placement.member !== undefined) pool.stickiness.bind(client, placement.member);
  if (client.member === undefined) pool.counters.noMember++;
  return client;
}

const NO_HEADERS: readonly string[] = [];

/** The facts of an L4 client (TCP connection, UDP flow): only its address counts. */
export function l4Client(clientIp: string): ClientFacts {
  return { clientIp, http: false, cookieHeader: undefined, requestRaw: NO_HEADERS, https: false, now: 0 };
}

/** What {@link placeClient} would decide for a client now (the admin API's explain). */
export interface DryPlacement {
  /** What the client's key proposes; undefined when the client is not sticky in this pool. */
  readonly key: KeyPeek | undefined;
  readonly member: MemberRuntime | undefined;
  readonly result: AffinityResult | undefined;
}

/**
 * The read-only placement: the same proposal and the same resolver as {@link placeClient}, but
 * with the stickiness's `peek` (no binding touched, no expired entry removed) and the policy's
 * `peek` (no round-robin step), and nothing recorded, counted or bound. Asking twice in a row
 * gives the same answer, and the next real placement of the same client is the one predicted.
 */
export function explainPlacement(pool: FrontPool, facts: ClientFacts): DryPlacement {
  const key = pool.stickiness.peek(facts);
  if (key === undefined) return { key, member: pool.peek(facts.clientIp), result: undefined };
  const dryPool: PlacementPool = {
    member: (id) => pool.member(id),
    pick: (clientIp) => pool.peek(clientIp),
  };
  const placement = resolvePlacement(dryPool, key.proposal, facts.clientIp);
  return { key, member: placement.member, result: placement.result };
}
