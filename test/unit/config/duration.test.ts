import { describe, expect, test } from "vitest";
import { formatDuration, parseDuration } from "../../../src/control/config/duration.js";

describe("parseDuration", () => {
  test.each([
    ["250ms", 250],
    ["2s", 2_000],
    ["30m", 1_800_000],
    ["1h30m", 5_400_000],
    ["7d", 604_800_000],
    ["1d2h3m4s5ms", 93_784_005],
    ["0s", 0],
    ["90m", 5_400_000],
    ["1m500ms", 60_500],
  ])("%s is %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each([
    [""],
    ["5"],
    ["s"],
    ["1.5s"],
    ["-1s"],
    ["5 s"],
    [" 5s"],
    ["30m1h"],
    ["1s1s"],
    ["1ms1s"],
    ["5S"],
    ["1w"],
    ["99999999999999999d"],
  ])("%j is not a duration", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe("formatDuration", () => {
  test.each([
    [0, "0ms"],
    [250, "250ms"],
    [1_000, "1s"],
    [5_400_000, "1h30m"],
    [604_800_000, "7d"],
    [93_784_005, "1d2h3m4s5ms"],
  ])("%i ms is %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});
