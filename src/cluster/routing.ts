import { fmix32, hashKey } from "../data/balancer/hash.js";

/**
 * Mixed into the client hash before the modulo, so that the worker a client lands on does not
 * correlate with where the same `hashKey(ip)` lands on the SOURCE_IP ring: the two choices stay
 * independent and every worker sees every member.
 */
const WORKER_SEED = 0x9e3779b9;

/**
 * The worker slot (0 … workers−1) that owns a client IP (already normalised by `clientIpKey`).
 * A pure function of the IP: every connection of a client reaches the same worker, so its
 * SOURCE_IP persistence binding and its APP_COOKIE bindings live in that one process.
 */
export function workerSlotOf(clientIp: string, workers: number): number {
  return fmix32(hashKey(clientIp) ^ WORKER_SEED) % workers;
}

/**
 * The slot to hand a connection to: the owner when it is ready, else the next ready slot (while
 * a dead worker restarts, its clients are served elsewhere rather than refused). Undefined when no
 * worker is ready.
 */
export function routeToSlot(
  clientIp: string,
  workers: number,
  ready: (slot: number) => boolean,
): number | undefined {
  const owner = workerSlotOf(clientIp, workers);
  for (let i = 0; i < workers; i++) {
    const slot = (owner + i) % workers;
    if (ready(slot)) return slot;
  }
  return undefined;
}
