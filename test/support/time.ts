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
