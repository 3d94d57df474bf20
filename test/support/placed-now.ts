import type { PlacedClient } from "../../src/data/affinity/placement-front.js";

/** A placement that must be synchronous (no shared store in the test): fails the test otherwise. */
export function placedNow(placed: PlacedClient | Promise<PlacedClient>): PlacedClient {
  if (placed instanceof Promise) throw new Error("expected a synchronous placement");
  return placed;
}
