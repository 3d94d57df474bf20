import { describe, expect, it } from "vitest";
import {
  checkKernelEnvironment,
  hasNetAdmin,
  KernelEnvironmentError,
} from "../../../src/kernel/environment.js";
import type { NftResult, NftRun } from "../../../src/kernel/nft-command.js";

const ok = (stdout = ""): NftResult => ({ code: 0, stdout, stderr: "" });
function fakeNft(answers: Record<string, NftResult>): NftRun {
  return async (args) => answers[args.join(" ")] ?? { code: 1, stdout: "", stderr: "unexpected" };
}

describe("checkKernelEnvironment", () => {
  const good = { "--version": ok("nftables v1.0.6 (Lester Gooch #5)"), "list tables": ok() };

  it("accepts nft >= 1.0 with CAP_NET_ADMIN and nf_tables", async () => {
    await expect(checkKernelEnvironment(fakeNft(good), () => true)).resolves.toBe("1.0");
  });

  it("names a missing nft and how to install it", async () => {
    const missing: NftRun = async () => ({ code: -1, stdout: "", stderr: "spawn nft ENOENT", missing: true });
    const error = await checkKernelEnvironment(missing, () => true).catch((e: KernelEnvironmentError) => e);
    expect(error).toBeInstanceOf(KernelEnvironmentError);
    expect((error as KernelEnvironmentError).missing).toBe("nft");
    expect((error as Error).message).toMatch(
      /needs the nft command .* \(apt-get install nftables\) or put it on PATH/,
    );
  });

  it("refuses nft older than 1.0", async () => {
    const old = fakeNft({ ...good, "--version": ok("nftables v0.9.8 (E.D.S.)") });
    await expect(checkKernelEnvironment(old, () => true)).rejects.toThrow(
      /needs nftables >= 1.0, found "nftables v0.9.8/,
    );
  });

  it("names a missing CAP_NET_ADMIN, from /proc or from nft's refusal", async () => {
    await expect(checkKernelEnvironment(fakeNft(good), () => false)).rejects.toThrow(
      /CAP_NET_ADMIN capability: run as root/,
    );
    const refused = fakeNft({
      ...good,
      "list tables": { code: 1, stdout: "", stderr: "Error: Operation not permitted" },
    });
    await expect(checkKernelEnvironment(refused, () => undefined)).rejects.toThrow(/operation not permitted/);
  });

  it("names missing nf_tables with nft's own words", async () => {
    const noKernel = fakeNft({
      ...good,
      "list tables": { code: 1, stdout: "", stderr: "Error: Protocol not supported" },
    });
    const error = await checkKernelEnvironment(noKernel, () => true).catch((e: KernelEnvironmentError) => e);
    expect((error as KernelEnvironmentError).missing).toBe("nf_tables");
    expect((error as Error).message).toMatch(
      /nf_tables in the kernel \(nft: Error: Protocol not supported\): load it/,
    );
  });
});

describe("hasNetAdmin", () => {
  it("reads bit 12 of CapEff", () => {
    expect(hasNetAdmin("Name:\tx\nCapEff:\t000001ffffffffff\n")).toBe(true);
    expect(hasNetAdmin("CapEff:\t0000000000000000\n")).toBe(false);
    expect(hasNetAdmin("CapEff:\t0000000000001000\n")).toBe(true);
    expect(hasNetAdmin("Name:\tx\n")).toBeUndefined();
  });
});
