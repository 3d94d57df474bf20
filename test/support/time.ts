/** Waits `ms` of real time (end-to-end tests only: unit tests use an injected clock). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
