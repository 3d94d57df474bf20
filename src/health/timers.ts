/**
 * Timers as a port, so that the health manager's schedule (jittered first probe, period, probe
 * timeout) runs on a fake clock in unit tests.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Timers {
  after(ms: number, fn: () => void): TimerHandle;
}

/** Real timers, unref'd: health checks never keep the process alive on their own. */
export const realTimers: Timers = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};
