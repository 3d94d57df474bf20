import { describe, expect, it } from "vitest";
import { reindentQuotedContinuations } from "../../../src/control/config/quoted-continuations.js";
import { parseYamlText } from "../../../src/control/config/yaml-source.js";

const TABBED = [
  "metadata:",
  "  annotations:",
  "    a: '[",
  "\t{",
  '\t\t"delay":"5",',
  '\t\t"path":"/it\'\'s"',
  "\t}",
  "]'",
  "    b: after",
  "",
].join("\n");

describe("quoted values continued on tab-indented lines", () => {
  it("are read as kubectl reads them: leading tabs folded away, keys after them in place", () => {
    const parsed = parseYamlText("x.yaml", TABBED);
    expect(parsed.errors).toEqual([]);
    const doc = parsed.documents[0]!;
    expect(doc.value).toEqual({
      metadata: { annotations: { a: '[ { "delay":"5", "path":"/it\'s" } ]', b: "after" } },
    });
    expect(
      JSON.parse((doc.value as { metadata: { annotations: { a: string } } }).metadata.annotations.a),
    ).toEqual([{ delay: "5", path: "/it's" }]);
    expect(doc.lineOf(["metadata", "annotations", "b"])).toEqual({ line: 9, column: 5 });
  });

  it("double quotes too, escapes included", () => {
    const text = 'k: "one \\"two\\"\n\tthree\\\n\t four"\nnext: 1\n';
    const parsed = parseYamlText("x.yaml", text);
    expect(parsed.errors).toEqual([]);
    expect(parsed.documents[0]!.value).toEqual({ k: 'one "two" threefour', next: 1 });
  });

  it("leave a valid file untouched", () => {
    const text = "a: 'x\n  y'\nb: \"it's\"\n";
    expect(reindentQuotedContinuations(text)).toEqual({ text, unclosed: [] });
  });

  it("a quote that is never closed is the first error, where it opens", () => {
    const text = 'kind: Service\nmetadata:\n  annotations:\n    a: \'[\n\t{"delay":"5"}\n    b: x\n';
    const parsed = parseYamlText("x.yaml", text);
    expect(parsed.errors.length).toBeGreaterThan(0);
    expect(parsed.errors[0]!.format()).toBe(
      "x.yaml:4:8: the single-quoted value that starts here is never closed (the errors that follow may come from it)",
    );
  });

  it("a document marker at column 0 ends the value for every parser", () => {
    const text = "a: 'x\n---\nb: y'\n";
    expect(reindentQuotedContinuations(text).unclosed).toEqual([3]);
  });
});
