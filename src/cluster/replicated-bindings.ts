import type { MemberId } from "../core/member.js";
import type { BindingEntry, BindingLookup, BindingStore } from "../data/affinity/binding-table.js";

/** Called when this worker learns (member) or forgets (null) a binding that others should know. */
export type PublishBinding = (key: string, member: MemberId | null) => void;

/**
 * An APP_COOKIE binding table shared by the workers of `--workers N`. Connections are routed to a
 * worker by client IP, so a cookie value normally lives in one worker; a client whose IP changed
 * (mobile networks, proxies) lands on another worker and must still find its member. Each table is
 * a full replica: a bind that changes what the table says and an explicit delete are published;
 * replicas apply them through {@link applyRemote}, which never publishes again (no echo).
 *
 * Idle expiry and eviction stay local: a replica only learns of traffic seen elsewhere through
 * rebinds, so in a worker where a binding was never used it may lapse earlier (see docs/workers.md).
 */
export class ReplicatedBindingStore implements BindingStore {
  constructor(
    private readonly table: BindingStore,
    private readonly publish: PublishBinding,
  ) {}

  get size(): number {
    return this.table.size;
  }

  get(key: string): BindingLookup {
    return this.table.get(key);
  }

  peek(key: string): BindingLookup {
    return this.table.peek(key);
  }

  bind(key: string, member: MemberId): void {
    const before = this.table.peek(key);
    this.table.bind(key, member);
    // A response that repeats the same Set-Cookie changes nothing: no message.
    if (before === undefined || before.expired || before.member !== member) this.publish(key, member);
  }

  touch(key: string): void {
    this.table.touch(key);
  }

  delete(key: string): boolean {
    const deleted = this.table.delete(key);
    if (deleted) this.publish(key, null);
    return deleted;
  }

  hold(key: string): void {
    this.table.hold(key);
  }

  release(key: string): void {
    this.table.release(key);
  }

  deleteMember(member: MemberId): number {
    return this.table.deleteMember(member);
  }

  sweep(): number {
    return this.table.sweep();
  }

  entries(): Iterable<BindingEntry> {
    return this.table.entries?.() ?? [];
  }

  bindingsOf(member: MemberId): number {
    return this.table.bindingsOf?.(member) ?? 0;
  }

  /** A binding learned or removed in another worker. */
  applyRemote(key: string, member: MemberId | null): void {
    if (member === null) this.table.delete(key);
    else this.table.bind(key, member);
  }
}
