/**
 * The Lua scripts the shared bindings run in Redis/Valkey (docs/shared-state.md). Each touches one
 * key (so it runs on the key's node in a cluster) and runs atomically: a claim, a compare-and-set
 * and a delete each decide and write in one step, with no other replica's command in between.
 * `PUBLISH` from inside a script reaches every node of a cluster, and ordering the invalidation
 * with the write it reports is what keeps replicas from ending on an older member than the store.
 */
import type { Cluster, Redis } from "ioredis";

/** A standalone or cluster client (the same union as `store-connection.ts`'s). */
type Client = Redis | Cluster;

/**
 * KEYS[1] binding; ARGV: proposed value, PX ms. A new placement: stores the proposal if the key is
 * absent, else refreshes the key's TTL (the claim is traffic on it). Returns the value the store
 * holds afterwards — the proposal, or the binding another replica made first.
 */
const CLAIM_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if cur then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return cur
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]`;

/**
 * KEYS[1] binding; ARGV: expected value ("" = none), new value, PX ms, channel, message.
 * Returns the value in the store afterwards: ARGV[2] when written, else the store's value.
 */
const BIND_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] or cur == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  if cur ~= false and cur ~= ARGV[2] then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
  return ARGV[2]
end
return cur`;

/**
 * KEYS: bindings in use; ARGV[1]: PX ms. Refreshes the TTL of each, in one command instead of one
 * per key (a third of the client's CPU per key). Returns the 1-based positions of the keys that
 * were gone. Standalone only: in a cluster the keys of one call would span slots.
 */
const TOUCH_SCRIPT = `
local gone = {}
for i, k in ipairs(KEYS) do
  if redis.call('PEXPIRE', k, ARGV[1]) == 0 then gone[#gone + 1] = i end
end
return gone`;

/** KEYS[1] binding; ARGV: channel, message. Returns 1 if a binding was removed. */
const DELETE_SCRIPT = `
local n = redis.call('DEL', KEYS[1])
if n == 1 then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return n`;

/**
 * Commands a client waits for (a new client's claim, a learnt binding whose response is held):
 * sent at once rather than auto-pipelined, because ioredis defers an auto-pipeline with
 * `setImmediate`, which on a busy event loop waits behind every pending I/O callback.
 */
export const UNBATCHED_COMMANDS: readonly string[] = ["stickylbClaim", "stickylbBind"];

export type ScriptedClient = Client & {
  stickylbClaim(key: string, value: string, px: number): Promise<string>;
  stickylbBind(
    key: string,
    expected: string,
    value: string,
    px: number,
    channel: string,
    msg: string,
  ): Promise<string>;
  stickylbDelete(key: string, channel: string, msg: string): Promise<number>;
  /** `count` keys, then the PX ms. */
  stickylbTouch(count: number, ...keysThenTtl: (string | number)[]): Promise<number[]>;
};

/** Defines the scripts on a client (EVALSHA, with EVAL when the server does not know them yet). */
export function withScripts(client: Client): ScriptedClient {
  client.defineCommand("stickylbClaim", { numberOfKeys: 1, lua: CLAIM_SCRIPT });
  client.defineCommand("stickylbBind", { numberOfKeys: 1, lua: BIND_SCRIPT });
  client.defineCommand("stickylbDelete", { numberOfKeys: 1, lua: DELETE_SCRIPT });
  // Its number of keys is given with each call.
  client.defineCommand("stickylbTouch", { lua: TOUCH_SCRIPT });
  return client as ScriptedClient;
}

/** `ADDRESS:PORT` as written by a replica; anything else in the store is ignored, never used. */
export function isEndpoint(value: string): boolean {
  return (
    value.length > 0 && value.length <= 64 && /^(\[[0-9A-Fa-f:.%a-z]+\]|[^\s:/[\]]+):\d{1,5}$/.test(value)
  );
}
