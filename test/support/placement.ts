import { l4Client, type PlacedClient, placeClient } from "../../src/data/affinity/placement-front.js";
import type { PoolRuntime } from "../../src/data/upstream/pool-runtime.js";
import { placedNow } from "./placed-now.js";

/**
 * Places an L4 client (its address is all it has) through the placement front, as TCP and UDP do.
 * Without a shared store the placement is synchronous; a promise fails the test.
 */
export function placeL4(pool: PoolRuntime, clientIp: string): PlacedClient {
  return placedNow(placeClient(pool, l4Client(clientIp)));
}
