import { describe, expect, it } from "vitest";
import { NftApplier, NftTransactionError } from "../../../src/kernel/applier.js";
import type { NftResult } from "../../../src/kernel/nft-command.js";
import { isAddressKey, NftReader } from "../../../src/kernel/reader.js";
import { renderRuleset } from "../../../src/kernel/ruleset.js";

const empty = (table: string) => renderRuleset({ table, listeners: [], pools: [] });

describe("NftApplier", () => {
  it("sends one transaction per change through nft -f -, the first one replacing a stale table", async () => {
    const calls: { args: readonly string[]; stdin: string | undefined }[] = [];
    const applier = new NftApplier(async (args, stdin) => {
      calls.push({ args, stdin });
      return { code: 0, stdout: "", stderr: "" };
    });
    await applier.apply(empty("t"));
    await applier.apply(empty("t"));
    expect(calls.map((c) => c.args.join(" "))).toEqual(["-f -", "-f -"]);
    expect(calls[0]!.stdin!.startsWith("table inet t\ndelete table inet t\ntable inet t {")).toBe(true);
    expect(calls[1]!.stdin!.startsWith("add table inet t\nflush table inet t\ntable inet t {")).toBe(true);
  });

  it("coalesces changes that arrive while a transaction runs: only the newest follows", async () => {
    const seen: string[] = [];
    let release: () => void = () => {};
    const applier = new NftApplier(async (_args, stdin) => {
      seen.push(stdin!.match(/table inet (\w+) \{/)![1]!);
      if (seen.length === 1) await new Promise<void>((r) => (release = r));
      return { code: 0, stdout: "", stderr: "" };
    });
    const first = applier.apply(empty("a"));
    const second = applier.apply(empty("b"));
    const third = applier.apply(empty("c"));
    release();
    await Promise.all([first, second, third]);
    expect(seen).toEqual(["a", "c"]);
  });

  it("keeps the applied ruleset when nft refuses a transaction", async () => {
    let fail = false;
    const applier = new NftApplier(async () =>
      fail
        ? { code: 1, stdout: "", stderr: "Error: syntax error\nmore" }
        : { code: 0, stdout: "", stderr: "" },
    );
    const first = empty("t");
    await applier.apply(first);
    fail = true;
    const error = await applier.apply(empty("t")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NftTransactionError);
    expect((error as Error).message).toBe("nft refused the transaction: Error: syntax error");
    expect(applier.current).toBe(first);
  });
});

describe("NftReader", () => {
  const answer = (stdout: string, code = 0): NftResult => ({
    code,
    stdout,
    stderr: code === 0 ? "" : "Error",
  });

  it("reads named counters and set elements from nft -j", async () => {
    const reader = new NftReader(async (args) => {
      if (args.includes("counters"))
        return answer(
          '{"nftables": [{"metainfo": {}}, {"counter": {"family": "inet", "name": "c_1", "table": "t", "packets": 7, "bytes": 420}}]}',
        );
      return answer(
        '{"nftables": [{"metainfo": {}}, {"set": {"name": "b_1", "elem": [{"elem": {"val": "1.2.3.4", "timeout": 600, "expires": 599}}, "5.6.7.8"]}}]}',
      );
    }, "t");
    expect(await reader.counters()).toEqual(new Map([["c_1", 7]]));
    expect(await reader.elements("b_1")).toEqual([
      { client: "1.2.3.4", expiresMs: 599_000 },
      { client: "5.6.7.8", expiresMs: undefined },
    ]);
  });

  it("looks up and deletes one element, and never splices anything but an IPv4 or IPv6 address into a command", async () => {
    const calls: string[] = [];
    const reader = new NftReader(async (args) => {
      calls.push(args.join(" "));
      return answer("", args.at(-1) === "{ 1.2.3.4 }" ? 0 : 1);
    }, "t");
    expect(await reader.has("b_1", "1.2.3.4")).toBe(true);
    expect(await reader.remove("b_1", "9.9.9.9")).toBe(false);
    expect(await reader.has("b_1", "1.2.3.4 }; flush ruleset; {")).toBe(false);
    expect(await reader.has("b_6", "fd00:77::2")).toBe(false);
    expect(await reader.remove("b_6", "fd00::1 }; flush ruleset; {")).toBe(false);
    expect(calls).toEqual([
      "get element inet t b_1 { 1.2.3.4 }",
      "delete element inet t b_1 { 9.9.9.9 }",
      "get element inet t b_6 { fd00:77::2 }",
    ]);
    expect(isAddressKey("256.1.1.1")).toBe(false);
    expect(isAddressKey("fe80::1%eth0")).toBe(false);
    expect(isAddressKey("::ffff:1.2.3.4")).toBe(true);
  });
});
