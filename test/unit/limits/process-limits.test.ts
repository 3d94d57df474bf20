import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  descriptorBounds,
  FALLBACK_NOFILE,
  listenerKinds,
  parseNofileLimit,
  readNofileLimit,
} from "../../../src/data/limits/process-limits.js";

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                40000                files
Max locked memory         8388608              8388608              bytes
`;

describe("process limits", () => {
  it("reads the soft open-file limit from /proc/self/limits text", () => {
    expect(parseNofileLimit(LIMITS)).toBe(20000);
    expect(parseNofileLimit(LIMITS.replace("20000", "unlimited"))).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseNofileLimit("Limit Soft Hard\nMax processes 5 5 processes\n")).toBeUndefined();
    expect(parseNofileLimit(LIMITS.replace("20000", "lots"))).toBeUndefined();
  });

  it("falls back to a small safe limit when the file cannot be read or parsed", () => {
    expect(readNofileLimit("/nonexistent/limits")).toEqual({ nofile: FALLBACK_NOFILE, source: "fallback" });
    const dir = mkdtempSync(join(tmpdir(), "stickylb-limits-"));
    writeFileSync(join(dir, "limits"), "garbage\n");
    expect(readNofileLimit(join(dir, "limits")).source).toBe("fallback");
    writeFileSync(join(dir, "limits"), LIMITS);
    expect(readNofileLimit(join(dir, "limits"))).toEqual({ nofile: 20000, source: join(dir, "limits") });
  });

  it("reads this process's real limit on Linux", () => {
    if (process.platform !== "linux") return;
    const { nofile, source } = readNofileLimit();
    expect(source).toBe("/proc/self/limits");
    expect(nofile).toBeGreaterThan(0);
  });

  it("keeps every bound inside the descriptors the process has, with a reserve for listeners and the admin API", () => {
    for (const nofile of [64, 256, 1024, 20000, 1_048_576]) {
      const b = descriptorBounds(nofile);
      expect(b.reserved).toBeGreaterThanOrEqual(Math.min(nofile, 64));
      // One descriptor per UDP flow, two per client connection: both tables full still leave the reserve.
      if (nofile > 64) expect(b.udpFlows + 2 * b.connections + b.reserved).toBeLessThanOrEqual(nofile);
      expect(b.udpFlows).toBeGreaterThanOrEqual(1);
      expect(b.connections).toBeGreaterThanOrEqual(1);
    }
    expect(descriptorBounds(20000)).toEqual({
      nofile: 20000,
      reserved: 2064,
      udpFlows: 8968,
      connections: 4484,
    });
    expect(descriptorBounds(Number.MAX_SAFE_INTEGER).udpFlows).toBeLessThan(2 ** 30);
  });

  it("gives every descriptor to the one kind of listener the configuration has", () => {
    const tcpOnly = descriptorBounds(20000, listenerKinds(["HTTP", "TCP", "HTTPS"]));
    expect(tcpOnly).toEqual({ nofile: 20000, reserved: 2064, udpFlows: 0, connections: 8968 });
    const udpOnly = descriptorBounds(20000, listenerKinds(["UDP"]));
    expect(udpOnly).toEqual({ nofile: 20000, reserved: 2064, udpFlows: 17936, connections: 0 });
    // Both kinds, and no listener at all (nothing is known yet): the even split.
    const both = { nofile: 20000, reserved: 2064, udpFlows: 8968, connections: 4484 };
    expect(descriptorBounds(20000, listenerKinds(["UDP", "HTTP"]))).toEqual(both);
    expect(descriptorBounds(20000, listenerKinds([]))).toEqual(both);
    for (const nofile of [128, 256, 1024, 1_048_576]) {
      for (const kinds of [listenerKinds(["TCP"]), listenerKinds(["UDP"])]) {
        const b = descriptorBounds(nofile, kinds);
        expect(b.udpFlows + 2 * b.connections + b.reserved).toBeLessThanOrEqual(nofile);
        expect(Math.max(b.udpFlows, b.connections)).toBeGreaterThanOrEqual(1);
      }
    }
  });
});
