/**
 * `stickylb validate --print` round trip over every fixture of test/fixtures (native documents and
 * Kubernetes objects): the printed text loads without a problem into the same model, and printing
 * that model again gives the same text.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfigFiles } from "../../../src/control/config/index.js";
import { PRINTED_SECRET_ENV, printNative } from "../../../src/control/config/print-native.js";
import { createKubernetesConverter } from "../../../src/control/k8s/index.js";
import type { ConfigModel } from "../../../src/core/model.js";
import { tempDir } from "../../support/stickylb-process.js";

const FIXTURES = resolve(import.meta.dirname, "../../fixtures");

interface Fixture {
  readonly name: string;
  readonly paths: string[];
  readonly options: { listenAddress: string; ingressClass: string };
}

function fixtures(): Fixture[] {
  const base = { listenAddress: "0.0.0.0", ingressClass: "stickylb" };
  const config = ["full", "folder", "persistence"].map((name) => ({
    name: `config/${name}`,
    paths: [join(FIXTURES, "config", name)],
    options: base,
  }));
  const k8s = readdirSync(join(FIXTURES, "k8s"), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => {
      const dir = join(FIXTURES, "k8s", d.name);
      const optionsFile = join(dir, "options.json");
      const extra = existsSync(optionsFile) ? (JSON.parse(readFileSync(optionsFile, "utf8")) as object) : {};
      return { name: `k8s/${d.name}`, paths: [join(dir, "input.yaml")], options: { ...base, ...extra } };
    });
  return [...config, ...k8s].sort((a, b) => a.name.localeCompare(b.name));
}

function load(paths: readonly string[], options: Fixture["options"]) {
  return loadConfigFiles(paths, { convertKubernetes: createKubernetesConverter(options) });
}

/**
 * What must survive printing: everything but where it came from (`source`, which names the
 * original file and object), the cookie key's value (printed as a variable, never in clear) and
 * how certificates are held (PEM from a Secret, or a file): their contents are compared instead.
 */
function essence(model: ConfigModel): unknown {
  const pem = (inline: string | undefined, file: string) => inline ?? readFileSync(file, "utf8");
  return {
    admin: model.admin,
    cookieSecret:
      model.cookieSecret === undefined ? undefined : { env: model.cookieSecret.env ?? PRINTED_SECRET_ENV },
    listeners: model.listeners.map(({ source: _source, tls, ...rest }) => ({
      ...rest,
      tls: tls.map((c) => ({ cert: pem(c.certPem, c.certFile), key: pem(c.keyPem, c.keyFile) })),
    })),
    pools: model.pools.map(({ source: _source, ...rest }) => rest),
  };
}

/** Writes the printed text, and the PEM of Secret certificates where the text says to put them. */
function writePrinted(text: string, model: ConfigModel): string {
  const dir = tempDir("stickylb-print-");
  const file = join(dir, "printed.yaml");
  writeFileSync(file, text);
  for (const l of model.listeners) {
    for (const c of l.tls) {
      const m = /^Secret ([^/\s]+)\/(\S+) tls\.crt$/.exec(c.certFile);
      if (m === null || c.certPem === undefined || c.keyPem === undefined) continue;
      const at = join(dir, "secrets", m[1]!, m[2]!);
      mkdirSync(at, { recursive: true });
      writeFileSync(join(at, "tls.crt"), c.certPem);
      writeFileSync(join(at, "tls.key"), c.keyPem);
    }
  }
  return file;
}

describe("validate --print round trip", () => {
  const all = fixtures();

  it("covers the native and the Kubernetes fixtures", () => {
    expect(all.length).toBeGreaterThan(10);
  });

  it.each(all.map((f) => [f.name, f] as const))("%s", (_name, f) => {
    const first = load(f.paths, f.options);
    if (first.model === undefined) {
      // A fixture of refused input: nothing to print.
      expect(first.errors.length).toBeGreaterThan(0);
      return;
    }
    const printed = printNative(first.model);
    const again = load([writePrinted(printed, first.model)], f.options);
    expect(again.errors.map((e) => e.format())).toEqual([]);
    expect(again.model).toBeDefined();
    expect(essence(again.model!)).toEqual(essence(first.model));

    const reprinted = printNative(again.model!);
    const fromSecrets = first.model.listeners.some((l) => l.tls.some((c) => c.certPem !== undefined));
    if (!fromSecrets) {
      expect(reprinted).toBe(printed);
      return;
    }
    // Certificates from Secrets print as paths relative to the printed file, under a note saying
    // so; once written there they are files, printed as absolute paths without the note, and from
    // then on the text is stable.
    const withoutNote = printed
      .split("\n")
      .filter((line) => !line.includes("# From Kubernetes Secrets"))
      .join("\n");
    expect(reprinted.replaceAll(`${dirname(again.model!.listeners[0]!.source.file)}/`, "")).toBe(withoutNote);
    const third = load([writePrinted(reprinted, again.model!)], f.options);
    expect(printNative(third.model!)).toBe(reprinted);
  });

  it("never prints a cookie key given as a value", () => {
    const dir = tempDir("stickylb-print-");
    const file = join(dir, "lb.yaml");
    const secret = "s3cret-".repeat(8);
    writeFileSync(
      file,
      `apiVersion: stickylb/v1\nkind: LoadBalancer\nmetadata: {name: t}\nspec:\n  cookieSecret: {value: "${secret}"}\n`,
    );
    const model = load([file], { listenAddress: "0.0.0.0", ingressClass: "stickylb" }).model!;
    const text = printNative(model);
    expect(text).not.toContain(secret);
    expect(text).toContain(`env: ${PRINTED_SECRET_ENV}`);
  });
});
