import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import {
  ConnectionBudget,
  createProcessBudgets,
  fitBudgets,
} from "../../../src/data/limits/connection-budget.js";

function capturingLogger(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: "info" }, stream), lines };
}

const flush = () => new Promise((r) => setImmediate(r));

describe("connection budget", () => {
  it("admits up to its bound, then refuses until an entry is given back", () => {
    const b = new ConnectionBudget("udp_flows", 3, undefined);
    expect([b.tryAcquire(), b.tryAcquire(), b.tryAcquire(), b.tryAcquire()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(b.inUse).toBe(3);
    b.release();
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
  });

  it("logs at warn once when the bound is first reached and once when use has fallen back by a tenth", async () => {
    const { log, lines } = capturingLogger();
    const b = new ConnectionBudget("connections", 10, log);
    for (let i = 0; i < 10; i++) b.tryAcquire();
    for (let i = 0; i < 100; i++) b.tryAcquire();
    b.release(); // 9 in use: not below 9
    b.tryAcquire();
    b.tryAcquire(); // still limited: no second "reached"
    b.release();
    b.release(); // 8 < 9: cleared
    for (let i = 0; i < 5; i++) b.release();
    await flush();
    const warns = lines.filter((l) => l.level === 40);
    expect(warns.map((l) => l.msg)).toEqual([
      "connections limit reached: new entries now evict the oldest idle one or are refused (derived from the open-file limit)",
      "connections limit cleared",
    ]);
    expect(warns.every((l) => l.code === "SLB_ERR_DATA_LIMIT" && l.limit === 10)).toBe(true);
    expect(b.atLimit).toBe(false);
  });

  it("refuses a bound that is not a positive integer", () => {
    expect(() => new ConnectionBudget("udp_flows", 0, undefined)).toThrow(RangeError);
    expect(() => new ConnectionBudget("udp_flows", 1.5, undefined)).toThrow(RangeError);
  });

  it("derives the process's budgets from the open-file limit and says so at info", async () => {
    const { log, lines } = capturingLogger();
    const budgets = createProcessBudgets(log, { nofile: 1024, source: "test" });
    expect(budgets.udpFlows.max).toBe(429);
    expect(budgets.connections.max).toBe(214);
    await flush();
    expect(lines[0]).toMatchObject({ nofile: 1024, from: "test", udpFlows: 429, connections: 214 });
  });

  it("follows the configuration's kinds of listeners, logging only when the split changes", async () => {
    const { log, lines } = capturingLogger();
    const budgets = createProcessBudgets(log, { nofile: 1024, source: "test" });
    fitBudgets(budgets, { udp: true, connections: true }, log);
    fitBudgets(budgets, { udp: false, connections: true }, log);
    expect([budgets.udpFlows.max, budgets.connections.max]).toEqual([0, 429]);
    fitBudgets(budgets, { udp: false, connections: true }, log);
    fitBudgets(budgets, { udp: true, connections: false }, log);
    expect([budgets.udpFlows.max, budgets.connections.max]).toEqual([858, 0]);
    await flush();
    expect(lines.map((l) => l.msg)).toEqual([
      "descriptor bounds derived from the open-file limit",
      "descriptor bounds follow the configuration's listeners",
      "descriptor bounds follow the configuration's listeners",
    ]);
  });

  it("a smaller bound keeps the entries open beyond it and refuses new ones until use falls below", () => {
    const b = new ConnectionBudget("connections", 5, undefined);
    for (let i = 0; i < 5; i++) b.tryAcquire();
    b.resize(3);
    expect(b.inUse).toBe(5);
    expect(b.tryAcquire()).toBe(false);
    b.release();
    b.release();
    expect(b.tryAcquire()).toBe(false);
    b.release();
    expect(b.tryAcquire()).toBe(true);
    b.resize(0);
    expect(b.tryAcquire()).toBe(false);
    expect(() => b.resize(-1)).toThrow(RangeError);
  });
});
