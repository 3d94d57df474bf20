import type { Socket } from "node:net";
import type { ListenerModel, Protocol } from "../../core/model.js";
import type { DataPathContext } from "../context.js";
import { bindKeyOf, type Snapshot } from "../snapshot.js";
import {
  type BindObserver,
  type BindState,
  nextBindDelay,
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

/** A listener of the configuration that could not bind, waiting for its next attempt. */
interface FailedBind {
  readonly error: string;
  readonly code: string | undefined;
  readonly attempts: number;
  readonly delayMs: number;
  readonly timer: unknown;
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
  private readonly failed = new Map<string, FailedBind>();
  /** The listeners of the last reconciled snapshot: what a retry may still bind. */
  private wanted: ReadonlyMap<string, ListenerModel> = new Map();
  /** Bind keys with an attempt under way, so that a retry and a reload never bind one key twice. */
  private readonly binding = new Set<string>();
  private readonly observers: BindObserver[] = [];
  private stopped = false;

  constructor(
    private readonly factories: ReadonlyMap<Protocol, ListenerFactory>,
    private readonly ctx: DataPathContext,
    private readonly timers: RetryTimers = REAL_RETRY_TIMERS,
  ) {}

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
      const waiting = this.failed.get(key);
      if (waiting !== undefined) this.timers.clear(waiting.timer);
      await this.bind(key, model);
    }
    for (const [key, waiting] of this.failed) {
      if (snapshot.listeners.has(key)) continue;
      this.timers.clear(waiting.timer);
      this.failed.delete(key);
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
    const failed = this.failed.get(key);
    if (failed === undefined) return undefined;
    return {
      bound: false,
      error: failed.error,
      code: failed.code,
      attempts: failed.attempts,
      retryInMs: failed.delayMs,
    };
  }

  /** The listeners of the configuration that cannot bind now, with the system's reason. */
  unbound(): { model: ListenerModel; error: string }[] {
    const out: { model: ListenerModel; error: string }[] = [];
    for (const [key, failed] of this.failed) {
      const model = this.wanted.get(key);
      if (model !== undefined) out.push({ model, error: failed.error });
    }
    return out;
  }

  /** One bind attempt; on failure the listener is reported and its next attempt scheduled. */
  private async bind(key: string, model: ListenerModel): Promise<void> {
    if (this.binding.has(key) || this.running.has(key)) return;
    const factory = this.factories.get(model.protocol);
    if (factory === undefined) {
      this.bindFailed(key, model, new Error(`protocol ${model.protocol} is not supported yet`));
      return;
    }
    this.binding.add(key);
    let listener: RunningListener;
    try {
      listener = await factory(model, this.ctx);
    } catch (err) {
      this.bindFailed(key, model, err as Error);
      return;
    } finally {
      this.binding.delete(key);
    }
    if (this.stopped || !this.wanted.has(key)) {
      // A reload removed the listener (or the process stops) while it was binding.
      await listener.stopAccepting();
      listener.closeAll();
      return;
    }
    this.running.set(key, listener);
    const failed = this.failed.get(key);
    this.failed.delete(key);
    this.ctx.log.info(
      {
        listener: model.name,
        protocol: model.protocol,
        address: model.address,
        port: model.port,
        ...(failed === undefined ? {} : { failedAttempts: failed.attempts }),
      },
      "listener bound",
    );
    if (failed !== undefined) this.tell(model, { bound: true });
  }

  private bindFailed(key: string, model: ListenerModel, err: Error): void {
    const previous = this.failed.get(key);
    if (previous !== undefined) this.timers.clear(previous.timer);
    if (this.stopped || !this.wanted.has(key)) {
      this.failed.delete(key);
      return;
    }
    const error = err.message;
    const code = (err as NodeJS.ErrnoException).code;
    const delayMs = nextBindDelay(previous?.delayMs);
    const timer = this.timers.set(() => void this.retry(key), delayMs);
    const entry: FailedBind = { error, code, attempts: (previous?.attempts ?? 0) + 1, delayMs, timer };
    this.failed.set(key, entry);
    const fields = {
      code: "SLB_ERR_DATA_BIND",
      listener: model.name,
      protocol: model.protocol,
      address: model.address,
      port: model.port,
      object: model.source.object,
      error,
      attempts: entry.attempts,
      retryInMs: delayMs,
    };
    // Logged and told once per change: a port held for an hour is one warning, not 120.
    if (previous !== undefined && previous.error === error) {
      this.ctx.log.debug(fields, "listener still cannot bind");
      return;
    }
    this.ctx.log.warn(fields, "listener cannot bind; retrying with backoff, the other listeners serve");
    this.tell(model, this.bindState(model)!);
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
    for (const waiting of this.failed.values()) this.timers.clear(waiting.timer);
    this.failed.clear();
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
