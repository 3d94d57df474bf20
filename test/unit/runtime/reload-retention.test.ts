import { getHeapSnapshot } from "node:v8";
import { describe, expect, it } from "vitest";
import type { ConfigModel } from "../../../src/core/model.js";
import { cleanupList, silentRuntime } from "../../support/cleanups.js";
import { listenerModel, poolModel } from "../http/harness.js";

interface HeapSnapshotJson {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/**
 * Live JavaScript objects and closures by constructor (or function) name. Taking a heap snapshot
 * collects garbage first, so these are what is still referenced.
 */
async function liveCounts(): Promise<Map<string, number>> {
  const chunks: string[] = [];
  for await (const chunk of getHeapSnapshot()) chunks.push(String(chunk));
  const snap = JSON.parse(chunks.join("")) as HeapSnapshotJson;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [width, typeAt, nameAt] = [fields.length, fields.indexOf("type"), fields.indexOf("name")];
  const counts = new Map<string, number>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!];
    if (type !== "object" && type !== "closure") continue;
    const key = `${type} ${snap.strings[snap.nodes[i + nameAt]!]}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

const cleanups = cleanupList();

describe("reloads retain nothing", () => {
  it("keeps no more objects after 300 reloads than after 100 (a listener and a member come and go each time)", async () => {
    const runtime = silentRuntime(cleanups);
    const web = listenerModel({ name: "web", port: 0 });
    const tcp = listenerModel({
      name: "extra-tcp",
      protocol: "TCP",
      address: "127.0.0.2",
      defaultPool: "extra",
    });
    const http = listenerModel({ name: "extra-http", address: "127.0.0.3", defaultPool: "extra" });
    const members = (last: number) => [1, 2, last].map((i) => ({ address: `127.0.1.${i}`, port: 9000 + i }));
    const withExtra: ConfigModel = {
      listeners: [web, tcp, http],
      pools: [poolModel("web", members(3)), poolModel("extra", [{ address: "127.0.1.5", port: 9005 }])],
    };
    const without: ConfigModel = { listeners: [web], pools: [poolModel("web", members(4))] };
    const reload = async (times: number): Promise<void> => {
      for (let i = 0; i < times; i++) {
        await runtime.apply(i % 2 === 0 ? withExtra : without);
        // Closed servers let go of their handles on the next turns of the loop.
        await new Promise((r) => setImmediate(r));
        runtime.collect();
      }
    };
    await reload(100);
    const before = await liveCounts();
    await reload(200);
    const after = await liveCounts();
    // A leak of anything per reload shows as 100 or more; a few come and go with the event loop.
    const grown = [...after]
      .map(([key, n]) => [key, n - (before.get(key) ?? 0)] as const)
      .filter(([, d]) => d >= 50);
    expect(grown).toEqual([]);
  }, 60_000);
});
