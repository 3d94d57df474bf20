import { describe, expect, it } from "vitest";
import { runtimeAdminSource } from "../../../src/admin/admin-source.js";
import { createMetricsRegistry } from "../../../src/admin/metrics.js";
import type { ConfigModel } from "../../../src/core/model.js";
import type { Runtime } from "../../../src/runtime/runtime.js";
import { cleanupList, silentRuntime } from "../../support/cleanups.js";
import { type HttpBackend, httpGet, startHttpBackend } from "../../support/http-backends.js";
import { listenerModel, poolModel } from "../http/harness.js";

const cleanups = cleanupList();

const newRuntime = (): Runtime => silentRuntime(cleanups);

async function backend(name: string): Promise<HttpBackend> {
  const b = await startHttpBackend(name, "127.0.1.1");
  cleanups.push(() => b.close());
  return b;
}

/** Runs the housekeeping until no removed member is left draining (its pooled connection closes on its own time). */
async function collectUntilDrained(runtime: Runtime): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    runtime.collect();
    if (![...runtime.registry.all()].some((m) => m.removed)) return;
    if (Date.now() > deadline) throw new Error("removed members did not drain");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const scrape = (runtime: Runtime) => createMetricsRegistry(runtimeAdminSource(runtime), "1").metrics();
const linesOf = (text: string, name: string) => text.split("\n").filter((l) => l.startsWith(`${name}{`));

describe("metric series of members and pools that leave", () => {
  it("drops a removed member's series once its drain has ended, and keeps the others' counts", async () => {
    const [a, b] = [await backend("a"), await backend("b")];
    const runtime = newRuntime();
    const listener = listenerModel({ port: 0 });
    const members = (...bs: HttpBackend[]) => bs.map((x) => ({ address: x.address, port: x.port }));
    await runtime.apply({ listeners: [listener], pools: [poolModel("web", members(a, b))] });
    const port = runtime.listeners.get(listener)!.port;
    // Round robin: one request each.
    expect((await httpGet(port)).status).toBe(200);
    expect((await httpGet(port)).status).toBe(200);
    const before = await scrape(runtime);
    const aLabel = `member="127.0.1.1:${a.port}"`;
    const bLabel = `member="127.0.1.1:${b.port}"`;
    expect(linesOf(before, "stickylb_requests_total").filter((l) => l.includes(aLabel))).toHaveLength(1);

    await runtime.apply({ listeners: [listener], pools: [poolModel("web", members(b))] });
    await collectUntilDrained(runtime);
    const after = await scrape(runtime);
    expect(after.split("\n").filter((l) => l.includes(aLabel))).toEqual([]);
    expect(linesOf(after, "stickylb_requests_total").filter((l) => l.includes(bLabel))).toEqual([
      `stickylb_requests_total{listener="web",pool="web",member="127.0.1.1:${b.port}",code="200"} 1`,
    ]);
  });

  it("keeps the series to the configuration's size over 60 reloads that each bring a new member and pool", async () => {
    const runtime = newRuntime();
    const listener = listenerModel({ port: 0, defaultPool: "p0" });
    let port = 0;
    for (let i = 0; i < 60; i++) {
      const member = await backend(`m${i}`);
      const model: ConfigModel = {
        listeners: [{ ...listener, defaultPool: `p${i}` }],
        pools: [poolModel(`p${i}`, [{ address: member.address, port: member.port }])],
      };
      await runtime.apply(model);
      port ||= runtime.listeners.get(listener)!.port;
      expect((await httpGet(port)).status).toBe(200);
      await collectUntilDrained(runtime);
    }
    const text = await scrape(runtime);
    // One member and one pool are configured: one row each, whatever came before.
    expect(linesOf(text, "stickylb_requests_total")).toHaveLength(1);
    expect(linesOf(text, "stickylb_request_duration_seconds_count")).toHaveLength(1);
    expect(linesOf(text, "stickylb_member_connections_total")).toHaveLength(1);
  });
});
