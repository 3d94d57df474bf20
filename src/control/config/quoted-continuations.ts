/**
 * Quoted values that go on over several lines, indented with tabs or less than their key: what
 * kubectl accepts and the `yaml` package refuses.
 *
 * The CCE documentation writes `kubernetes.io/elb.health-check-options` as a JSON array inside a
 * single-quoted scalar whose continuation lines are indented with tabs from column 0. YAML 1.2
 * wants each continuation line of a quoted scalar indented (with spaces) deeper than its parent;
 * libyaml (and go-yaml, which kubectl uses) does not check that indentation. The `yaml` package
 * does: it ends the scalar at the first such line ("Missing closing 'quote"), then reports every
 * following line as a stray tab or key, a cascade whose first message says nothing of the cause.
 *
 * Leading white space (spaces and tabs) of a continuation line is never part of a quoted value:
 * line folding discards it, in single and double quotes alike (YAML 1.2, 7.3 and 6.5). So such a
 * line can be re-indented with spaces without changing the value. This module does exactly that
 * for the quoted scalars that the `yaml` package found unterminated, keeping every line where it
 * was, so every position reported afterwards is still right.
 */
import { Parser } from "yaml";

export interface RepairResult {
  readonly text: string;
  /** Offsets of opening quotes whose value is never closed. */
  readonly unclosed: number[];
}

interface QuotedToken {
  readonly type: string;
  readonly offset: number;
  readonly source: string;
}

/** Quoted-scalar tokens of the CST whose source lacks its closing quote. */
function unterminatedQuotes(text: string): QuotedToken[] {
  const found: QuotedToken[] = [];
  const seen = new Set<unknown>();
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== "object" || seen.has(node)) return;
    seen.add(node);
    const t = node as Partial<QuotedToken>;
    if (
      (t.type === "single-quoted-scalar" || t.type === "double-quoted-scalar") &&
      typeof t.offset === "number" &&
      typeof t.source === "string" &&
      !closes(t.source)
    ) {
      found.push(t as QuotedToken);
    }
    for (const value of Object.values(node)) walk(value);
  };
  for (const token of new Parser().parse(text)) walk(token);
  return found.sort((a, b) => a.offset - b.offset);
}

/** Whether a quoted scalar's source ends with its closing quote. */
function closes(source: string): boolean {
  return source.length >= 2 && closingQuote(source, 0) === source.length - 1;
}

/** Offset of the quote that closes the scalar opened at `start`, or -1. */
function closingQuote(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c !== "'") continue;
      if (text[i + 1] === "'") {
        i++; // '' is an escaped quote
        continue;
      }
      return i;
    }
    if (c === "\\") {
      i++; // the escaped character, whatever it is
      continue;
    }
    if (c === '"') return i;
  }
  return -1;
}

/** A line at column 0 that starts a document marker ends the scalar for every parser. */
const isDocumentMarker = (line: string): boolean => /^(---|\.\.\.)(\s|$)/.test(line);

/**
 * Re-indents the continuation lines of quoted scalars that the `yaml` package cannot close, so
 * that it reads them as libyaml does. Text without such scalars comes back unchanged.
 */
export function reindentQuotedContinuations(text: string): RepairResult {
  const unclosed: number[] = [];
  let current = text;
  // Each round fixes the first unterminated scalar; later ones may be artefacts of it.
  for (let round = 0; round < 1000; round++) {
    const open = unterminatedQuotes(current).find((t) => !unclosed.includes(t.offset));
    if (open === undefined) break;
    const start = open.offset;
    const end = closingQuote(current, start);
    const lineStart = current.lastIndexOf("\n", start) + 1;
    const indent = " ".repeat(start - lineStart + 1);
    const lines = current.slice(start, end === -1 ? current.length : end + 1).split("\n");
    const continuation = lines.slice(1);
    if (end === -1 || continuation.some(isDocumentMarker)) {
      unclosed.push(start);
      continue;
    }
    const reindented = [
      lines[0],
      ...continuation.map((line) => {
        const content = line.replace(/^[ \t]+/, "");
        return content === "" || content === "\r" ? content : indent + content;
      }),
    ].join("\n");
    const next = current.slice(0, start) + reindented + current.slice(end + 1);
    if (next === current) {
      // Nothing to re-indent: the scalar is unterminated for another reason; leave it to the parser.
      unclosed.push(start);
      continue;
    }
    current = next;
  }
  return { text: current, unclosed };
}
