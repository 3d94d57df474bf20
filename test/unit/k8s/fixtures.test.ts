/**
 * Converter fixtures (Traefik's pattern): each folder of test/fixtures/k8s holds `input.yaml`
 * (Kubernetes objects, maybe mixed with native documents) and `expected.json` (the model, every
 * problem as its one-line form, every warning). `options.json` may set the converter options.
 * `UPDATE_FIXTURES=1` rewrites the expectations, which must then be read and checked by hand.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfigSources } from "../../../src/control/config/index.js";
import { createKubernetesConverter } from "../../../src/control/k8s/index.js";

const ROOT = resolve(import.meta.dirname, "../../fixtures/k8s");

/** PEM blocks are long and say nothing to a reader; they are replaced by their kind. */
function readable(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (key, v: unknown) =>
      (key === "certPem" || key === "keyPem") && typeof v === "string" ? `<${key} ${v.length} chars>` : v,
    ),
  );
}

function convertFixture(dir: string): unknown {
  const text = readFileSync(join(dir, "input.yaml"), "utf8");
  const optionsFile = join(dir, "options.json");
  const options = {
    listenAddress: "0.0.0.0",
    ...(existsSync(optionsFile) ? (JSON.parse(readFileSync(optionsFile, "utf8")) as object) : {}),
  };
  const result = loadConfigSources([{ file: "input.yaml", text }], {
    convertKubernetes: createKubernetesConverter(options),
  });
  return readable({
    errors: result.errors.map((e) => e.format()),
    warnings: result.warnings.map((w) => w.format()),
    ...(result.model === undefined ? {} : { listeners: result.model.listeners, pools: result.model.pools }),
  });
}

describe("Kubernetes converter fixtures", () => {
  const cases = readdirSync(ROOT, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  it.each(cases)("%s", (name) => {
    const dir = join(ROOT, name);
    const actual = convertFixture(dir);
    const expectedFile = join(dir, "expected.json");
    if (process.env.UPDATE_FIXTURES === "1" || !existsSync(expectedFile))
      writeFileSync(expectedFile, `${JSON.stringify(actual, null, 2)}\n`);
    expect(actual).toEqual(JSON.parse(readFileSync(expectedFile, "utf8")));
  });
});
