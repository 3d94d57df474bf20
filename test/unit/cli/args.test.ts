import { describe, expect, it } from "vitest";
import { parseCli, UsageError } from "../../../src/cli/args.js";

const run = (...flags: string[]) => parseCli(["run", "--kubernetes", ...flags]);

describe("flags of run --kubernetes", () => {
  it("defaults: classes stickylb and cce, load balancer class stickylb.io/stickylb, leader election on", () => {
    const options = run();
    expect(options.ingressClasses).toEqual(["stickylb", "cce"]);
    expect(options.loadBalancerClass).toBe("stickylb.io/stickylb");
    expect(options.leaderElect).toBe(true);
    expect(options.metricsAddress).toBeUndefined();
    expect(options.publishService).toBeUndefined();
  });

  it("--ingress-class is repeatable and then names the only classes", () => {
    expect(run("--ingress-class", "a", "--ingress-class=b").ingressClasses).toEqual(["a", "b"]);
  });

  it("--leader-elect=false, --no-leader-elect and --leader-elect", () => {
    expect(run("--leader-elect=false").leaderElect).toBe(false);
    expect(run("--no-leader-elect").leaderElect).toBe(false);
    expect(run("--leader-elect").leaderElect).toBe(true);
    expect(run("--leader-elect=true").leaderElect).toBe(true);
    expect(() => run("--leader-elect=maybe")).toThrow(
      new UsageError("--leader-elect=maybe is not accepted (--leader-elect=true or --leader-elect=false)"),
    );
  });

  it("--publish-service NAMESPACE/NAME, --metrics-address ADDR:PORT, --cookie-secret-file", () => {
    const options = run(
      "--publish-service",
      "ingress/stickylb",
      "--metrics-address",
      "0.0.0.0:10254",
      "--cookie-secret-file",
      "/etc/stickylb/cookie/secret",
    );
    expect(options.publishService).toEqual({ namespace: "ingress", name: "stickylb" });
    expect(options.metricsAddress).toEqual({ address: "0.0.0.0", port: 10254 });
    expect(options.cookieSecretFile).toBe("/etc/stickylb/cookie/secret");
    expect(() => run("--publish-service", "stickylb")).toThrow(
      "--publish-service stickylb is not accepted (NAMESPACE/NAME of a Service)",
    );
    expect(() => run("--metrics-address", "10254")).toThrow(
      "--metrics-address 10254 is not accepted (ADDRESS:PORT, e.g. 127.0.0.1:9901)",
    );
  });
});
