import { describe, expect, it } from "vitest";
import { ReplicatedBindingStore } from "../../../src/cluster/replicated-bindings.js";
import { ManualClock } from "../../../src/core/clock.js";
import { BindingTable } from "../../../src/data/affinity/binding-table.js";

function setup() {
  const clock = new ManualClock(0);
  const published: [string, string | null][] = [];
  const table = new BindingTable({ ttlMs: 60_000, maxEntries: 10, clock });
  const store = new ReplicatedBindingStore(table, (key, member) => published.push([key, member]));
  return { clock, published, table, store };
}

describe("ReplicatedBindingStore", () => {
  it("publishes a new binding and a changed one, not a repeated one", () => {
    const { store, published } = setup();
    store.bind("v1", "app/10.0.0.1:80");
    store.bind("v1", "app/10.0.0.1:80");
    store.bind("v1", "app/10.0.0.2:80");
    expect(published).toEqual([
      ["v1", "app/10.0.0.1:80"],
      ["v1", "app/10.0.0.2:80"],
    ]);
    expect(store.get("v1")).toEqual({ member: "app/10.0.0.2:80", expired: false });
  });

  it("publishes a rebind of an expired entry and a delete that removed something", () => {
    const { store, published, clock } = setup();
    store.bind("v1", "app/a:1");
    clock.advance(60_000);
    store.bind("v1", "app/a:1");
    expect(store.delete("v1")).toBe(true);
    expect(store.delete("v1")).toBe(false);
    expect(published).toEqual([
      ["v1", "app/a:1"],
      ["v1", "app/a:1"],
      ["v1", null],
    ]);
  });

  it("applies remote bindings and deletions without publishing them again", () => {
    const { store, published } = setup();
    store.applyRemote("v2", "app/b:2");
    expect(store.peek("v2")).toEqual({ member: "app/b:2", expired: false });
    expect(store.size).toBe(1);
    expect(store.bindingsOf("app/b:2")).toBe(1);
    store.applyRemote("v2", null);
    expect(store.peek("v2")).toBeUndefined();
    expect(published).toEqual([]);
  });
});
