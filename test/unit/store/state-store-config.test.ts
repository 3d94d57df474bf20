import { describe, expect, it } from "vitest";
import { parseCli, UsageError } from "../../../src/cli/args.js";
import { loadConfigSources } from "../../../src/control/config/index.js";

const doc = (stateStore: string) => `apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: t}
spec:
  stateStore: ${stateStore}
  pools: [{name: p}]
  listeners: [{name: l, protocol: TCP, port: 9000, defaultPool: p}]
`;

describe("state store configuration", () => {
  it("reads spec.stateStore with the default key prefix, passwordFile relative to the YAML file", () => {
    const result = loadConfigSources(
      [
        {
          file: "/etc/stickylb/lb.yaml",
          text: doc('{url: "redis+cluster://10.0.0.1:7000,10.0.0.2:7000", passwordFile: pw}'),
        },
      ],
      { checkReadable: () => undefined },
    );
    expect(result.errors).toEqual([]);
    expect(result.model?.stateStore).toEqual({
      url: "redis+cluster://10.0.0.1:7000,10.0.0.2:7000",
      keyPrefix: "stickylb:",
      passwordFile: "/etc/stickylb/pw",
    });
  });

  it("a second document may not give another stateStore", () => {
    const result = loadConfigSources([
      { file: "a.yaml", text: doc("{url: redis://h:1, keyPrefix: shop/}") },
      {
        file: "b.yaml",
        text: doc("{url: redis://h:2}")
          .replace("name: t", "name: u")
          .replace("name: p}", "name: q}")
          .replace("name: l,", "name: m,")
          .replace("port: 9000, defaultPool: p", "port: 9001, defaultPool: q"),
      },
    ]);
    expect(result.errors.map((e) => e.format())).toContain(
      "b.yaml:5:3: LoadBalancer/u: spec.stateStore: stateStore is already given (a.yaml:5:3); give it in one document only",
    );
  });

  it("--state-store is checked when the command line is read", () => {
    expect(parseCli(["run", "-f", "x", "--state-store", "rediss://h:6380/2"]).stateStore).toBe(
      "rediss://h:6380/2",
    );
    expect(parseCli(["run", "-f", "x"]).stateStore).toBeUndefined();
    expect(() => parseCli(["validate", "-f", "x", "--state-store", "redis://:pw@h"])).toThrow(UsageError);
    expect(() => parseCli(["validate", "-f", "x", "--state-store", "redis://:pw@h"])).toThrow(
      '--state-store "redis://:***@h" is not a valid state store URL: "h" has no port',
    );
  });
});
