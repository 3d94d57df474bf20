import { describe, expect, it } from "vitest";
import { parseCli, UsageError } from "../../../src/cli/args.js";

describe("--l4-dataplane and --nft-table", () => {
  it("default to the userspace plane and the table stickylb", () => {
    const options = parseCli(["run", "-f", "lb.yaml"]);
    expect(options.l4Dataplane).toBe("userspace");
    expect(options.nftTable).toBe("stickylb");
  });

  it("accept nftables and a table name", () => {
    const options = parseCli(["run", "-f", "lb.yaml", "--l4-dataplane", "nftables", "--nft-table", "lb_2"]);
    expect(options.l4Dataplane).toBe("nftables");
    expect(options.nftTable).toBe("lb_2");
  });

  it("refuse other planes and names nft cannot take, saying what is accepted", () => {
    expect(() => parseCli(["run", "-f", "x", "--l4-dataplane", "ebpf"])).toThrow(
      new UsageError("--l4-dataplane ebpf is not accepted (userspace or nftables)"),
    );
    expect(() => parseCli(["run", "-f", "x", "--nft-table", "my table;"])).toThrow(
      /--nft-table "my table;" is not accepted \(a letter, then up to 31 letters, digits or _\)/,
    );
  });
});
