import type { Socket } from "node:net";
import type { ListenerModel, Protocol } from "../../core/model.js";
import type { DataPathContext } from "../context.js";
import { bindKeyOf, type Snapshot } from "../snapshot.js";
import {
  type BindObserver,
  BindRetries,
  type BindState,
  REAL_RETRY_TIMERS,
  type RetryTimers,
} from "./bind-retry.js";
import type { LiveLabels } from "./live-labels.js";
import type { RunningListener } from "./running-listener.js";

export type ListenerFactory = (model: ListenerModel, ctx: DataPathContext) => Promise<RunningListener>;

/** A listener that left the configuration: not accepting, its open connections draining. */
interface DrainingListener {
  readonly listener: RunningListener;
  readonly deadline: number;
}

/**
 * The bound listeners, reconciled with each snapshot (docs/operations.md, reload): a listener
 * whose protocol, address and port stay keeps its socket and open connections; a new one binds;
 * one that disappears stops accepting and drains until the drain timeout.
 *
 * One listener that cannot bind never takes the others down: its failure is logged (once per
 * change), kept for the admin API and the observers, and the bind is retried with backoff
 * (`bind-retry.ts`) for as long as the configuration has the listener.
 */
export class ListenerSet {
  private readonly running = new Map<string, RunningListener>();
  private readonly draining: DrainingListener[] = [];
  private readonly failed: BindRetries;
  /** The listeners of the last reconciled snapshot: what a retry may still bind. */
  private wanted: ReadonlyMap<string, ListenerModel> = new Map();
  private readonly observers: BindObserver[] = [];
  private stopped = false;

  constructor(
    private readonly factories: ReadonlyMap<Protocol, ListenerFactory>,
    private readonly ctx: DataPathContext,
    timers: RetryTimers = REAL_RETRY_TIMERS,
  ) {
    this.failed = new BindRetries(
      ctx.log,
      timers,
      (key) => void this.retry(key),
      (model, state) => this.tell(model, state),
    );
  }

  /** Calls `observer` whenever a listener starts failing to bind, fails differently, or binds after failing. */
  observeBinds(observer: BindObserver): void {
    this.observers.push(observer);
  }

  /**
   * Binds what is new and drains what is gone. Never rejects for a bind: a listener that cannot
   * bind is reported and retried while the others serve. Listeners that failed before are tried
   * again at once (a reload is often the operator's answer to a freed port).
   */
  async reconcile(snapshot: Snapshot, drainTimeoutMs: number): Promise<void> {
    this.wanted = snapshot.listeners;
    for (const [key, model] of snapshot.listeners) {
      const kept = this.running.get(key);
      if (kept !== undefined) {
        kept.update?.(snapshot);
        continue;
      }
      this.failed.cancel(key);
      await this.bind(key, model);
    }
    for (const { key } of [...this.failed.waiting()]) {
      if (snapshot.listeners.has(key)) continue;
      this.failed.drop(key);
      this.ctx.log.info({ bindKey: key }, "listener removed; its bind retries stop");
    }
    const now = this.ctx.clock.now();
    for (const [key, listener] of this.running) {
      if (snapshot.listeners.has(key)) continue;
      this.running.delete(key);
      await listener.stopAccepting();
      this.draining.push({ listener, deadline: now + drainTimeoutMs });
      this.ctx.log.info({ bindKey: key }, "listener removed, draining");
    }
  }

  /** Whether the listener is bound, or why not; undefined when it is not in the configuration. */
  bindState(model: ListenerModel): BindState | undefined {
    const key = bindKeyOf(model);
    if (this.running.has(key)) return { bound: true };
    return this.failed.state(key);
  }

  /** The listeners of the configuration that cannot bind now, with the system's reason. */
  unbound(): { model: ListenerModel; error: string }[] {
    const out: { model: ListenerModel; error: string }[] = [];
    for (const { key, error } of this.failed.waiting()) {
      const model = this.wanted.get(key);
      if (model !== undefined) out.push({ model, error });
    }
    return out;
  }

  /** One bind attempt; on failure the listener is reported and its next attempt scheduled. */
  private async bind(key: string, model: ListenerModel): Promise<void> {
    if (this.running.has(key)) return;
    const factory = this.factories.get(model.protocol);
    const listener = await this.failed.attempt(
      key,
      model,
      () =>
        factory === undefined
          ? Promise.reject(new Error(`protocol ${model.protocol} is not supported yet`))
          : factory(model, this.ctx),
      () => !this.stopped && this.wanted.has(key),
    );
    if (listener === undefined) return;
    if (this.stopped || !this.wanted.has(key)) {
      // A reload removed the listener (or the process stops) while it was binding.
      await listener.stopAccepting();
      listener.closeAll();
      return;
    }
    this.running.set(key, listener);
    const failedAttempts = this.failed.bound(key);
    this.ctx.log.info(
      {
        listener: model.name,
        protocol: model.protocol,
        address: model.address,
        port: model.port,
        ...(failedAttempts === undefined ? {} : { failedAttempts }),
      },
      "listener bound",
    );
    if (failedAttempts !== undefined) this.tell(model, { bound: true });
  }

  private async retry(key: string): Promise<void> {
    const model = this.wanted.get(key);
    if (this.stopped || model === undefined || !this.failed.has(key)) return;
    await this.bind(key, model);
  }

  private tell(model: ListenerModel, state: BindState): void {
    for (const observer of this.observers) {
      try {
        observer(model, state);
      } catch (err) {
        // An observer's bug must not stop the retries nor the other observers.
        this.ctx.log.error({ err, listener: model.name }, "a listener bind observer failed");
      }
    }
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
    this.stopped = true;
    this.failed.dropAll();
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
