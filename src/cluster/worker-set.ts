import cluster, { type Worker } from "node:cluster";
import type { Socket } from "node:net";
import type { Logger } from "../core/log.js";
import {
  type HealthEntry,
  isMessage,
  type Query,
  type ReplyMessage,
  type ToPrimary,
  type ToWorker,
  WORKER_COUNT_ENV,
  WORKER_SLOT_ENV,
} from "./messages.js";

interface Slot {
  worker: Worker;
  ready: boolean;
}

interface Pending {
  readonly slot: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export interface WorkerSetOptions {
  readonly count: number;
  readonly log: Logger;
  /** Brings a (re)started worker up to date (applies the current configuration); called once per fork. */
  readonly prepare: (slot: number) => Promise<void>;
}

/**
 * The primary's worker processes, by slot (0 … count−1; the logs say "worker slot+1"). Relays what
 * workers tell each other (APP_COOKIE bindings, health from worker 1, passive failures to worker
 * 1), answers queries by id, and restarts a worker that dies unless the group is stopping.
 */
export class WorkerSet {
  private readonly slots: (Slot | undefined)[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stopping = false;
  /** Restarts begin once every worker has started; a worker that dies while starting fails the start. */
  private started = false;
  /** Last known health by member id, from worker 1; sent to a worker after each apply. */
  private readonly health = new Map<string, HealthEntry>();

  constructor(private readonly options: WorkerSetOptions) {
    this.slots = new Array<Slot | undefined>(options.count).fill(undefined);
  }

  get count(): number {
    return this.options.count;
  }

  /** Forks every worker and resolves when all are prepared. */
  async start(): Promise<void> {
    await Promise.all(this.slots.map((_, slot) => this.fork(slot)));
    this.started = true;
  }

  isReady(slot: number): boolean {
    return this.slots[slot]?.ready === true;
  }

  allReady(): boolean {
    return this.slots.every((s) => s?.ready === true);
  }

  pids(): number[] {
    return this.slots.map((s) => s?.worker.process.pid ?? 0);
  }

  /** Hands a socket to a worker; the socket is closed here when the worker cannot take it. */
  handOff(slot: number, message: ToWorker, socket: Socket): void {
    const s = this.slots[slot];
    if (s === undefined || !s.worker.isConnected()) {
      socket.destroy();
      return;
    }
    s.worker.send(message, socket, (err: Error | null) => {
      if (err !== null) socket.destroy();
    });
  }

  /** Asks one worker; rejects after `timeoutMs` or when it answers with an error. */
  query(slot: number, query: Query, timeoutMs = 5000): Promise<unknown> {
    const s = this.slots[slot];
    if (s === undefined || !s.worker.isConnected())
      return Promise.reject(new Error(`worker ${slot + 1} is not running`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker ${slot + 1} did not answer ${query.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { slot, resolve, reject, timer });
      s.worker.send({ kind: "query", id, ...query } satisfies ToWorker);
    });
  }

  /** Marks a prepared worker ready and gives it the health that worker 1 knows. */
  markReady(slot: number): void {
    const s = this.slots[slot];
    if (s === undefined) return;
    s.ready = true;
    if (slot !== 0 && this.health.size > 0)
      this.sendTo(slot, { kind: "health", full: true, entries: [...this.health.values()] });
  }

  /** Stops every worker (drain) and resolves when all have exited or after `timeoutMs` (then kills). */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const exits = this.slots.map((s) => {
      if (s === undefined || s.worker.isDead()) return Promise.resolve();
      return new Promise<void>((resolve) => {
        s.worker.once("exit", () => resolve());
        if (s.worker.isConnected()) s.worker.send({ kind: "stop" } satisfies ToWorker);
        else s.worker.process.kill("SIGTERM");
      });
    });
    const timer = setTimeout(() => {
      for (const s of this.slots) if (s !== undefined && !s.worker.isDead()) s.worker.process.kill("SIGKILL");
    }, timeoutMs);
    await Promise.all(exits);
    clearTimeout(timer);
  }

  private async fork(slot: number): Promise<void> {
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot), [WORKER_COUNT_ENV]: String(this.count) });
    const s: Slot = { worker, ready: false };
    this.slots[slot] = s;
    worker.on("message", (message: ToPrimary) => this.onMessage(slot, message));
    worker.once("exit", (code, signal) => {
      s.ready = false;
      for (const [id, p] of this.pending) {
        // Queries to a dead worker would only time out.
        if (p.slot !== slot) continue;
        clearTimeout(p.timer);
        p.reject(new Error(`worker ${slot + 1} exited`));
        this.pending.delete(id);
      }
      if (this.stopping || !this.started || this.slots[slot] !== s) return;
      this.options.log.error(
        { worker: slot + 1, pid: worker.process.pid, code, signal },
        "worker exited; restarting it",
      );
      void this.fork(slot).catch((err: unknown) =>
        this.options.log.error({ err, worker: slot + 1 }, "worker could not be restarted"),
      );
    });
    await new Promise<void>((resolve, reject) => {
      worker.on("message", (m: ToPrimary) => {
        if (m.kind === "hello") resolve();
      });
      worker.once("exit", () => reject(new Error(`worker ${slot + 1} exited while starting`)));
    });
    await this.options.prepare(slot);
    this.markReady(slot);
    this.options.log.info({ worker: slot + 1, pid: worker.process.pid }, "worker ready");
  }

  private sendTo(slot: number, message: ToWorker): void {
    const s = this.slots[slot];
    if (s?.worker.isConnected()) s.worker.send(message);
  }

  private onMessage(from: number, message: ToPrimary): void {
    if (isMessage(message, "reply")) {
      const r = message as ReplyMessage;
      const p = this.pending.get(r.id);
      if (p === undefined) return;
      this.pending.delete(r.id);
      clearTimeout(p.timer);
      if (r.ok) p.resolve(r.value);
      else p.reject(new Error(r.error ?? "worker error"));
      return;
    }
    switch (message.kind) {
      case "hello":
        return;
      case "binding":
        for (let slot = 0; slot < this.count; slot++) if (slot !== from) this.sendTo(slot, message);
        return;
      case "health":
        if (from !== 0) return;
        if (message.full) this.health.clear();
        for (const e of message.entries) this.health.set(e[0], e);
        for (let slot = 1; slot < this.count; slot++) this.sendTo(slot, message);
        return;
      case "passive":
        this.sendTo(0, message);
        return;
    }
  }
}
