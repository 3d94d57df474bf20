import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The layering of docs/architecture.md, checked on the source itself: every `import … from`,
 * `export … from` and `import()` of a relative path (type-only imports included: a type cycle is
 * still a cycle for a reader).
 */
const SRC = resolve(import.meta.dirname, "../../../src");

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/g;

/** File (relative to src/) → the files of ours it imports (relative to src/). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, "utf8");
    const targets: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      if (spec === undefined || !spec.startsWith(".")) continue;
      targets.push(relative(SRC, resolve(dirname(file), spec.replace(/\.js$/, ".ts"))));
    }
    graph.set(relative(SRC, file), targets);
  }
  return graph;
}

const graph = importGraph();
const top = (path: string): string => path.split("/")[0]!;

describe("module boundaries", () => {
  it("data/ never imports control/, admin/, runtime/, cluster/ or cli/", () => {
    const bad: string[] = [];
    for (const [file, targets] of graph) {
      if (top(file) !== "data") continue;
      for (const t of targets)
        if (["control", "admin", "runtime", "cluster", "cli"].includes(top(t))) bad.push(`${file} → ${t}`);
    }
    expect(bad).toEqual([]);
  });

  it("core/ imports nothing of ours outside core/", () => {
    const bad: string[] = [];
    for (const [file, targets] of graph) {
      if (top(file) !== "core") continue;
      for (const t of targets) if (top(t) !== "core") bad.push(`${file} → ${t}`);
    }
    expect(bad).toEqual([]);
  });

  it("control/ ends at the model: it imports only core/, errors/, control/ and the state store's URL parser", () => {
    // The wiring that starts a runtime for a configuration source lives in runtime/ (e.g.
    // runtime/kubernetes-main.ts), never in control/; control/ must not reach the data path, the
    // runtime, the admin API, health, the kernel plane, the workers or the CLI.
    const allowed = (t: string): boolean =>
      ["core", "errors", "control"].includes(top(t)) || t === "store/state-store-url.ts";
    const bad: string[] = [];
    for (const [file, targets] of graph) {
      if (top(file) !== "control") continue;
      for (const t of targets) if (!allowed(t)) bad.push(`${file} → ${t}`);
    }
    expect(bad).toEqual([]);
  });

  it("has no import cycles", () => {
    // Tarjan's strongly connected components; any component of more than one file is a cycle.
    let index = 0;
    const indexOf = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    const visit = (v: string): void => {
      indexOf.set(v, index);
      low.set(v, index);
      index++;
      stack.push(v);
      onStack.add(v);
      for (const w of graph.get(v) ?? []) {
        if (!graph.has(w)) continue;
        if (!indexOf.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
      }
      if (low.get(v) === indexOf.get(v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== v);
        if (component.length > 1) cycles.push(component.sort());
      }
    };
    for (const v of graph.keys()) if (!indexOf.has(v)) visit(v);
    expect(cycles).toEqual([]);
  });
});
