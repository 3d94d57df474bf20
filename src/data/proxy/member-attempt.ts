/**
 * The one attempt-and-retry routine of the data path, for TCP connections (`tcp-proxy.ts`), HTTP
 * exchanges (`http-forward.ts`) and upgrades alike: claim the member, connect within
 * `timeouts.connect` (or take a pooled keep-alive connection when the caller serves plain HTTP
 * requests), report the outcome (passive health through `ConnectOutcomeSink`, the listener's
 * counters), and after a failure ask the retry rule for another member and attempt it. The caller
 * is told `memberReady` with a connected {@link UpstreamConnection}, or learns from
 * {@link MemberAttempt.retryAfterFailure} returning false that it must give up (502, close).
 *
 * The retry rule: one more try on another eligible member when the first may be repeated (not
 * retried yet, client still there, nothing sent that cannot be sent twice — the caller says). The
 * client is moved through the placement front, so its binding follows and a `hit` becomes a
 * `redispatch`.
 *
 * A base class rather than a helper object, so that an HTTP exchange stays one object whose
 * methods are every callback of its request: no closure, promise or second object per request
 * (docs/performance.md, "HTTP/1.1 on the sockets").
 */
import type { Socket } from "node:net";
import type { ListenerModel } from "../../core/model.js";
import type { PlacedClient } from "../affinity/placement-front.js";
import type { DataPathContext } from "../context.js";
import type { MemberConnectionPools } from "../upstream/member-connections.js";
import type { MemberRuntime } from "../upstream/member-runtime.js";
import type { PoolRuntime } from "../upstream/pool-runtime.js";
import {
  connectMember,
  type UpstreamConnection,
  type UpstreamUser,
} from "../upstream/upstream-connection.js";

/** What every attempting path counts, under the same names (`connect_failure`, `retry`). */
export interface AttemptCounters {
  connectFailures: number;
  retries: number;
}

/** One client's attempts on members; subclasses add what they do with the connection. */
export abstract class MemberAttempt implements UpstreamUser {
  /** The current attempt's connection: connecting (`connected` false), or connected. */
  protected conn: UpstreamConnection | undefined;
  /** The member of the current attempt. */
  protected target: MemberRuntime;
  /** The member this attempt is counted on (`MemberRuntime.enter`), until {@link releaseClaim}. */
  protected claimed: MemberRuntime | undefined;
  /** The current attempt's connection is established. */
  protected connected = false;
  /** A retry on another member happened (the rule allows one). */
  protected retried = false;
  /** Over for its member: further connection events are ignored. */
  protected over = false;

  constructor(
    protected readonly listener: ListenerModel,
    protected readonly ctx: DataPathContext,
    protected readonly attemptCounters: AttemptCounters,
    protected readonly pool: PoolRuntime,
    protected readonly sticky: PlacedClient,
    /** The client side a drain of the member closes (`MemberRuntime.claim`). */
    private readonly claimant: Socket,
  ) {
    this.target = sticky.member!;
  }

  /**
   * Keep-alive pools to take connections from (plain HTTP requests); undefined, the default: each
   * attempt connects a socket of its own that never returns to a pool (TCP relays, upgrades).
   */
  protected get pools(): MemberConnectionPools | undefined {
    return undefined;
  }

  /** The member timeout once connected; 0, the default: none (a relay has its idle timeout). */
  protected get activityMs(): number {
    return 0;
  }

  abstract onUpstreamData(chunk: Buffer): void;
  abstract onUpstreamEnd(): void;
  abstract onUpstreamError(code: string): void;
  abstract onUpstreamTimeout(): void;
  abstract onUpstreamDrain(): void;
  abstract onUpstreamFault(err: unknown): void;
  /** The attempt's connection is established and reported healthy; `conn` is set. */
  protected abstract memberReady(conn: UpstreamConnection): void;

  /**
   * Attempts `target`: claims it, then lends a connection — a pooled one unless `fresh` (the resend
   * after a stale keep-alive connection) or the caller's connections are its own.
   */
  protected attempt(target: MemberRuntime, fresh: boolean): void {
    this.target = target;
    this.connected = false;
    this.conn = undefined;
    // Counted without a release closure per attempt (enter/leave): the HTTP path allocates none.
    target.enter(this.claimant);
    this.claimed = target;
    const { pools, activityMs } = this;
    const connectMs = this.listener.timeouts.connectMs;
    const conn =
      pools === undefined
        ? connectMember(target, this, connectMs, activityMs)
        : pools.poolFor(target).acquire(this, connectMs, activityMs, fresh);
    // Still connecting: held (with `connected` false) so that a client that leaves aborts it.
    if (!this.connected && !this.over) this.conn = conn;
  }

  onUpstreamConnect(conn: UpstreamConnection): void {
    if (this.over) {
      conn.close();
      return;
    }
    this.conn = conn;
    this.connected = true;
    this.ctx.outcomes.connectSucceeded(this.target);
    this.memberReady(conn);
  }

  /** Releases the claim on the current member (idempotent). */
  protected releaseClaim(): void {
    const member = this.claimed;
    if (member === undefined) return;
    this.claimed = undefined;
    member.leave(this.claimant);
  }

  /**
   * The current attempt failed before its member served anything (a connect failure, or a reset
   * the caller has counted as such): the claim is released, the failure counted and reported
   * (passive health), and another eligible member attempted when `repeatable` and the rule allows.
   * False: no other attempt — the caller gives up.
   */
  protected retryAfterFailure(code: string, repeatable: boolean): boolean {
    const target = this.target;
    const { ctx } = this;
    this.conn = undefined;
    this.releaseClaim();
    if (!this.connected) this.attemptCounters.connectFailures++;
    ctx.outcomes.connectFailed(target, code);
    ctx.log.debug(
      {
        listener: this.listener.name,
        member: target.endpoint,
        err: code,
        connected: this.connected,
        code: this.connected ? "SLB_ERR_DATA_BAD_RESPONSE" : "SLB_ERR_DATA_CONNECT",
      },
      "member failed",
    );
    if (this.retried || !repeatable) return false;
    const next = this.pool.pick(this.sticky.facts.clientIp, target);
    if (next === undefined) return false;
    this.attemptCounters.retries++;
    this.retried = true;
    const moving = this.sticky.moveTo(next);
    if (!(moving instanceof Promise)) {
      this.attempt(moving, false);
      return true;
    }
    // A shared pool: the move is made in the store first (its budget at most), so that replicas
    // retrying the same client after the same failure send it to one member.
    moving.then((member) => {
      if (this.over) return;
      try {
        this.attempt(member, false);
      } catch (err) {
        this.onUpstreamFault(err);
      }
    });
    return true;
  }
}
