/**
 * Multi-document YAML → plain values, keeping where every key and list item starts so that a
 * validator working on plain values can still point at line and column.
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from "yaml";
import { ConfigError, type FieldPath, type Position } from "./config-error.js";
import { reindentQuotedContinuations } from "./quoted-continuations.js";

export interface ParsedDocument {
  readonly file: string;
  /** 1-based place of the document in its file. */
  readonly index: number;
  /** The document as plain JavaScript (mappings are objects). */
  readonly value: unknown;
  /**
   * Where the key at `path` starts (for a list item: where the item starts). A path that is not
   * in the document resolves to its nearest present ancestor, which is where a missing field is
   * reported (docs/configuration.md, error lines).
   */
  lineOf(path: FieldPath): Position;
}

export interface ParsedText {
  readonly documents: ParsedDocument[];
  readonly errors: ConfigError[];
  readonly warnings: ConfigError[];
}

const keyOf = (path: FieldPath): string => JSON.stringify(path);

/** A resolver of positions for `lineOf`; the document start when nothing closer is known. */
export function positionResolver(index: ReadonlyMap<string, Position>, start: Position) {
  return (path: FieldPath): Position => {
    for (let length = path.length; length >= 0; length--) {
      const found = index.get(keyOf(path.slice(0, length)));
      if (found !== undefined) return found;
    }
    return start;
  };
}

function indexPositions(
  node: Node | null | undefined,
  path: FieldPath,
  at: (offset: number) => Position,
  out: Map<string, Position>,
): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = pair.key;
      if (!isScalar(key) || key.range === undefined || key.range === null) continue;
      const childPath = [...path, String(key.value)];
      out.set(keyOf(childPath), at(key.range[0]));
      indexPositions(pair.value as Node | null, childPath, at, out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const child = item as Node | null;
      const childPath = [...path, i];
      if (child?.range) out.set(keyOf(childPath), at(child.range[0]));
      indexPositions(child, childPath, at, out);
    });
  }
}

/**
 * Parses every document of `text`; a document that is empty or only comments is skipped. Quoted
 * values continued on lines indented with tabs, or less than their key, are read as kubectl reads
 * them (quoted-continuations.ts); a quoted value that is never closed is reported where it opens.
 */
export function parseYamlText(file: string, original: string): ParsedText {
  let text = original;
  let unclosed: number[] = [];
  let docs = parseAllDocuments(text, { prettyErrors: false });
  if (docs.some((doc) => doc.errors.length > 0)) {
    const repaired = reindentQuotedContinuations(text);
    text = repaired.text;
    unclosed = repaired.unclosed;
  }
  const lineCounter = new LineCounter();
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const documents: ParsedDocument[] = [];
  const errors: ConfigError[] = [];
  const warnings: ConfigError[] = [];
  const yamlProblem = (pos: [number, number], message: string): ConfigError =>
    new ConfigError({
      code: "SLB_ERR_CONFIG_YAML",
      file,
      ...at(pos[0]),
      object: "",
      path: "",
      // The yaml package may add a code frame after the first line; an error is one line (docs/configuration.md).
      message: message.split("\n")[0] ?? message,
    });

  docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  for (const offset of unclosed) {
    const quote = text[offset] === '"' ? "double" : "single";
    errors.push(
      yamlProblem(
        [offset, offset],
        `the ${quote}-quoted value that starts here is never closed (the errors that follow may come from it)`,
      ),
    );
  }
  docs.forEach((doc, i) => {
    for (const warning of doc.warnings) warnings.push(yamlProblem(warning.pos, warning.message));
    if (doc.errors.length > 0) {
      for (const error of doc.errors) errors.push(yamlProblem(error.pos, error.message));
      return;
    }
    const contents = doc.contents as Node | null;
    if (contents === null || (isScalar(contents) && contents.value === null)) return;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (error) {
      errors.push(yamlProblem([contents.range?.[0] ?? 0, 0], (error as Error).message));
      return;
    }
    const index = new Map<string, Position>();
    const start = at(contents.range?.[0] ?? 0);
    index.set(keyOf([]), start);
    indexPositions(contents, [], at, index);
    documents.push({ file, index: i + 1, value, lineOf: positionResolver(index, start) });
  });
  return { documents, errors, warnings };
}
