import type { Socket } from "node:net";
import type { ListenerModel, Protocol } from "../../core/model.js";
import type { DataPathContext } from "../context.js";
import { bindKeyOf, type Snapshot } from "../snapshot.js";
import type { LiveLabels } from "./live-labels.js";
import type { RunningListener } from "./running-listener.js";

export type ListenerFactory = (model: ListenerModel, ctx: DataPathContext) => Promise<RunningListener>;

/** A listener that left the configuration: not accepting, its open connections draining. */
interface DrainingListener {
  readonly listener: RunningListener;
  readonly deadline: number;
}

/**
 * The bound listeners, reconciled with each snapshot (SPEC 6.8): a listener whose protocol,
 * address and port stay keeps its socket and open connections; a new one binds; one that
 * disappears stops accepting and drains until the drain timeout.
 */
export class ListenerSet {
  private readonly running = new Map<string, RunningListener>();
  private readonly draining: DrainingListener[] = [];

  constructor(
    private readonly factories: ReadonlyMap<Protocol, ListenerFactory>,
    private readonly ctx: DataPathContext,
  ) {}

  /** Binds what is new and drains what is gone. Rejects with the first bind error after trying all. */
  async reconcile(snapshot: Snapshot, drainTimeoutMs: number): Promise<void> {
    const errors: Error[] = [];
    for (const [key, model] of snapshot.listeners) {
      const kept = this.running.get(key);
      if (kept !== undefined) {
        kept.update?.(snapshot);
        continue;
      }
      const factory = this.factories.get(model.protocol);
      if (factory === undefined) {
        errors.push(new Error(`listener ${model.name}: protocol ${model.protocol} is not supported yet`));
        continue;
      }
      try {
        this.running.set(key, await factory(model, this.ctx));
        this.ctx.log.info(
          { listener: model.name, protocol: model.protocol, address: model.address, port: model.port },
          "listener bound",
        );
      } catch (err) {
        errors.push(
          new Error(`listener ${model.name} (${model.address}:${model.port}): ${(err as Error).message}`),
        );
      }
    }
    const now = this.ctx.clock.now();
    for (const [key, listener] of this.running) {
      if (snapshot.listeners.has(key)) continue;
      this.running.delete(key);
      await listener.stopAccepting();
      this.draining.push({ listener, deadline: now + drainTimeoutMs });
      this.ctx.log.info({ bindKey: key }, "listener removed, draining");
    }
    if (errors[0] !== undefined) throw errors[0];
  }

  /**
   * Injected mode: serves a connection the primary accepted on the listener with `bindKey`.
   * False (the caller closes it) when no such listener runs here.
   */
  accept(bindKey: string, socket: Socket, carriedAddress?: string, leftover?: Buffer): boolean {
    const listener = this.running.get(bindKey);
    if (listener?.accept === undefined) return false;
    listener.accept(socket, carriedAddress, leftover);
    return true;
  }

  get(model: ListenerModel): RunningListener | undefined {
    return this.running.get(bindKeyOf(model));
  }

  /** Closes draining listeners whose connections are gone or whose deadline has passed. */
  collect(): void {
    const now = this.ctx.clock.now();
    for (let i = this.draining.length - 1; i >= 0; i--) {
      const d = this.draining[i]!;
      if (d.listener.openCount() === 0 || now >= d.deadline) {
        d.listener.closeAll();
        this.draining.splice(i, 1);
      }
    }
  }

  /** Drops the counter rows of pools and members that are gone, in every serving listener. */
  forgetSeries(live: LiveLabels): void {
    for (const l of this.running.values()) l.forgetSeries?.(live);
  }

  /** Graceful stop (SIGTERM): stop accepting everywhere, wait for open connections up to the timeout. */
  async shutdown(drainTimeoutMs: number): Promise<void> {
    const all = [...this.running.values(), ...this.draining.map((d) => d.listener)];
    await Promise.all(all.map((l) => l.stopAccepting()));
    const deadline = this.ctx.clock.now() + drainTimeoutMs;
    while (this.ctx.clock.now() < deadline && all.some((l) => l.openCount() > 0)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const l of all) l.closeAll();
    this.running.clear();
    this.draining.length = 0;
  }

  openCount(): number {
    let n = 0;
    for (const l of this.running.values()) n += l.openCount();
    for (const d of this.draining) n += d.listener.openCount();
    return n;
  }
}
