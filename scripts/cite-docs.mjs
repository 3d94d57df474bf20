#!/usr/bin/env node
// Rewrites citations of the former internal contract ("SPEC 6.4", "SPEC section 5") and of the
// team's style notes ("STYLE point 3") in comments and test names into the repository's own docs,
// so that nothing points outside the repository. Run from the repository root:
//
//   node scripts/cite-docs.mjs            rewrite src/ and test/ in place, list what is left
//   node scripts/cite-docs.mjs --check    change nothing; exit 1 if anything is left to rewrite
//
// What it cannot map (a bare "SPEC", "issue N") is listed for a person to rewrite.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const BEHAVIOUR = "docs/reference/behaviour.md";
/** Section of the former contract → the doc that now says it. */
const SECTIONS = {
  1: "README.md",
  2: "docs/glossary.md",
  3: "docs/reference/cli.md",
  4: "docs/configuration.md",
  5: "docs/reference/annotations.md",
  5.1: "docs/reference/annotations.md",
  5.2: "docs/reference/annotations.md",
  6: BEHAVIOUR,
  6.1: `${BEHAVIOUR}#algorithms`,
  6.2: `${BEHAVIOUR}#source_ip-session-persistence`,
  6.3: `${BEHAVIOUR}#failure-of-a-bound-member`,
  6.4: `${BEHAVIOUR}#http_cookie`,
  6.5: `${BEHAVIOUR}#app_cookie`,
  6.6: `${BEHAVIOUR}#http-forwarding`,
  "6.6a": `${BEHAVIOUR}#udp`,
  6.7: `${BEHAVIOUR}#health`,
  6.8: `${BEHAVIOUR}#reload-and-drain`,
  7: "docs/reference/admin-api.md",
  8: "docs/reference/cli.md",
  9: "docs/reference/cli.md",
  10: "docs/kubernetes.md",
  11: "docs/kubernetes.md",
  12: "docs/reference/admin-api.md",
};

const CITATION = /\bSPEC(?:'s)?(?: section)? (\d+(?:\.\d+)?a?)(?:(?:[/–-]| and )(\d+(?:\.\d+)?a?))?/g;
const STYLE = /\bSTYLE(?: point)? \d+\b/g;
const LEFT = /\bSPEC\b|\bissue [0-9]+|\bSTYLE\b/;

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...files(path));
    else if (/\.(ts|mjs|js|ya?ml)$/.test(name)) out.push(path);
  }
  return out;
}

function rewrite(text) {
  return text
    .replace(CITATION, (whole, first, second) => {
      const a = SECTIONS[first];
      const b = second === undefined ? a : SECTIONS[second];
      if (a === undefined || b === undefined) return whole;
      // A range over one page names the page once, without an anchor.
      if (a === b) return a;
      const pageA = a.split("#")[0];
      return pageA === b.split("#")[0] ? pageA : `${a}, ${b}`;
    })
    .replace(STYLE, "docs/architecture.md");
}

const check = process.argv.includes("--check");
let changed = 0;
const left = [];
for (const file of [...files("src"), ...files("test")]) {
  const before = readFileSync(file, "utf8");
  const after = rewrite(before);
  if (after !== before) {
    changed++;
    if (!check) writeFileSync(file, after);
  }
  (check ? before : after).split("\n").forEach((line, i) => {
    if (LEFT.test(line)) left.push(`${file}:${i + 1}: ${line.trim()}`);
  });
}
console.log(`${changed} file(s) ${check ? "would change" : "rewritten"}`);
if (left.length > 0) {
  console.log(`left for a person to rewrite (${left.length}):`);
  for (const l of left) console.log(`  ${l}`);
}
process.exitCode = check && (changed > 0 || left.length > 0) ? 1 : 0;
