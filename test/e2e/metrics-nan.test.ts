import { afterEach, describe, expect, it } from "vitest";
import { freeTcpPort } from "../support/ports.js";
import { runStickylb, type StickylbProcess, tempDir, writeConfig } from "../support/stickylb-process.js";

const procs: StickylbProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await p.stop();
});

async function scrape(adminPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

describe("/metrics", () => {
  it("has no NaN sample right after start, nor on a scrape that follows another at once", async () => {
    const port = await freeTcpPort();
    const proc = await runStickylb([
      writeConfig(
        tempDir(),
        "lb.yaml",
        `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: nan}
spec:
  listeners:
    - {name: l, protocol: TCP, address: 127.0.0.1, port: ${port}, defaultPool: p}
  pools:
    - {name: p, members: [{address: 127.0.1.70, port: 9000}]}
`,
      ),
    ]);
    procs.push(proc);
    const adminPort = await proc.adminPort();
    const texts = [await scrape(adminPort), await scrape(adminPort), await scrape(adminPort)];
    expect(texts[0]).toContain("stickylb_nodejs_eventloop_lag_mean_seconds");
    for (const text of texts) {
      const bad = text.split("\n").filter((l) => !l.startsWith("#") && /\sNaN$/i.test(l));
      expect(bad).toEqual([]);
    }
  });
});
