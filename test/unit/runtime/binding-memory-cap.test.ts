import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/core/clock.js";
import type { PoolModel } from "../../../src/core/model.js";
import type { BindingTable } from "../../../src/data/affinity/binding-table.js";
import { BYTES_PER_BINDING, bindingMemoryCap, PoolStates } from "../../../src/runtime/pool-states.js";

function sourceIpPool(maxBindings: number): PoolModel {
  return {
    name: "p",
    algorithm: "ROUND_ROBIN",
    members: [],
    sessionPersistence: { type: "SOURCE_IP", persistenceTimeoutMs: 60_000, maxBindings },
  } as unknown as PoolModel;
}

describe("binding tables are bounded by memory as well as by maxBindings", () => {
  it("derives the cap from the heap limit: half of it at 200 bytes per binding", () => {
    expect(bindingMemoryCap(4 * 1024 ** 3)).toBe(Math.floor((2 * 1024 ** 3) / BYTES_PER_BINDING));
    // A 256 MiB heap holds about 671,000 bindings, below the default bound of 1,000,000.
    expect(bindingMemoryCap(256 * 1024 ** 2)).toBe(671_088);
    expect(bindingMemoryCap(0)).toBe(1000);
  });

  it("gives a table the smaller of maxBindings and the memory cap", () => {
    const capped = new PoolStates(new ManualClock(), undefined, 5).stateFor(sourceIpPool(1_000_000));
    expect((capped.bindings as BindingTable).maxEntries).toBe(5);
    const configured = new PoolStates(new ManualClock(), undefined, 5_000).stateFor(sourceIpPool(10));
    expect((configured.bindings as BindingTable).maxEntries).toBe(10);
  });

  it("evicts at the capped bound", () => {
    const state = new PoolStates(new ManualClock(), undefined, 3).stateFor(sourceIpPool(1_000_000));
    const table = state.bindings as BindingTable;
    for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]) table.bind(ip, "p/127.0.1.1:80");
    expect(table.size).toBe(3);
    expect(table.peek("10.0.0.1")).toBeUndefined();
  });
});
