import { describe, expect, it } from "vitest";
import type { ListenerReport } from "../../../src/data/listener/listener-report.js";
import { HttpListenerCounters } from "../../../src/data/proxy/http-counters.js";
import { TcpListenerCounters } from "../../../src/data/proxy/tcp-proxy.js";

/** Every number a report shows. */
function reported(report: ListenerReport): number[] {
  return [
    report.connections,
    report.traffic,
    report.bytesIn,
    report.bytesOut,
    ...Object.values(report.events),
  ];
}

describe("listener counters declare every counter they count", () => {
  for (const make of [() => new HttpListenerCounters(), () => new TcpListenerCounters()]) {
    const name = make().constructor.name;
    it(`${name}: each numeric counter appears in its report`, () => {
      const counters = make() as unknown as Record<string, unknown> & { report(): ListenerReport };
      const fields = Object.keys(counters).filter((k) => typeof counters[k] === "number");
      expect(fields.length).toBeGreaterThan(3);
      fields.forEach((field, i) => {
        counters[field] = 1000 + i;
      });
      const values = reported(counters.report());
      for (const [i, field] of fields.entries()) expect(values, field).toContain(1000 + i);
    });
  }
});
