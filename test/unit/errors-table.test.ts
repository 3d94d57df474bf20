import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/errors/codes.js";

/** The rows of the table in docs/errors.md as [code, meaning], cells trimmed (the formatter pads columns). */
function documentedCodes(): [string, string][] {
  const text = readFileSync(resolve(import.meta.dirname, "../../docs/errors.md"), "utf8");
  return text
    .split("\n")
    .filter((line) => /^\|\s*`?SLB_ERR_/.test(line))
    .map((line) => {
      const cells = line.split("|").map((c) => c.trim().replace(/`/g, ""));
      return [cells[1] ?? "", cells[2] ?? ""];
    });
}

describe("the SLB_ERR_* table and docs/errors.md", () => {
  it("list the same codes in the same order", () => {
    expect(documentedCodes().map(([code]) => code)).toEqual(Object.keys(ERROR_CODES));
  });

  it("document every code with a meaning, and every code follows SLB_ERR_<AREA>_<PROBLEM>", () => {
    for (const [code, meaning] of documentedCodes()) {
      expect(code).toMatch(/^SLB_ERR_[A-Z0-9]+_[A-Z0-9_]+$/);
      expect(meaning.length, code).toBeGreaterThan(10);
    }
  });
});
