/** Waits `ms` of real time (end-to-end tests only: unit tests use an injected clock). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits until `predicate` holds, checking every few milliseconds; fails after `timeoutMs` naming
 * `what`. The deadline is a safety net for a broken test, not a threshold the test measures.
 */
export async function until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Calls `probe` until it resolves (end-to-end tests: a state that the process reaches by itself),
 * retrying every `pollMs`; rethrows the probe's last error after `ms`.
 */
export async function within<T>(ms: number, probe: () => Promise<T>, pollMs = 25): Promise<T> {
  return (await timedWithin(ms, probe, pollMs)).value;
}

/** {@link within}, also telling how long the state took to come. */
export async function timedWithin<T>(
  ms: number,
  probe: () => Promise<T>,
  pollMs = 25,
): Promise<{ value: T; tookMs: number }> {
  const start = Date.now();
  for (;;) {
    try {
      return { value: await probe(), tookMs: Date.now() - start };
    } catch (error) {
      if (Date.now() - start > ms) throw error;
      await sleep(pollMs);
    }
  }
}

/** Calls `check` until it stops throwing; rethrows its last failure after `ms`. */
export async function eventually(check: () => void, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(20);
    }
  }
}
