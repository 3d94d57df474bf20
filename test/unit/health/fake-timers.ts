import type { ManualClock } from "../../../src/core/clock.js";
import type { TimerHandle, Timers } from "../../../src/health/timers.js";

interface Entry {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** Timers driven by a ManualClock: `advance` runs what falls due, in order, letting promises settle between. */
export class FakeTimers implements Timers {
  private entries: Entry[] = [];
  private seq = 0;

  constructor(readonly clock: ManualClock) {}

  after(ms: number, fn: () => void): TimerHandle {
    const e: Entry = { at: this.clock.now() + ms, seq: this.seq++, fn, cancelled: false };
    this.entries.push(e);
    return {
      cancel: () => {
        e.cancelled = true;
      },
    };
  }

  get pending(): number {
    return this.entries.filter((e) => !e.cancelled).length;
  }

  async advance(ms: number): Promise<void> {
    const target = this.clock.now() + ms;
    await settle();
    for (;;) {
      this.entries = this.entries.filter((e) => !e.cancelled);
      let next: Entry | undefined;
      for (const e of this.entries)
        if (
          e.at <= target &&
          (next === undefined || e.at < next.at || (e.at === next.at && e.seq < next.seq))
        )
          next = e;
      if (next === undefined) break;
      this.entries.splice(this.entries.indexOf(next), 1);
      if (next.at > this.clock.now()) this.clock.set(next.at);
      next.fn();
      await settle();
    }
    this.clock.set(target);
  }
}

/** Lets pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}
