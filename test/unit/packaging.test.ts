/**
 * The image and the npm package ship the same files: every entry of package.json "files" is
 * copied into the Dockerfile's runtime stage, and nothing else of the checkout is.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

describe("packaging", () => {
  const pkg = JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")) as {
    files: string[];
    bin: Record<string, string>;
    scripts: Record<string, string>;
  };
  const dockerfile = readFileSync(resolve(ROOT, "Dockerfile"), "utf8");
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));

  it("copies exactly the package's files (plus package.json and the lock file) into the image", () => {
    // `COPY SRC DEST` with one source: the path it lands at under /app.
    const targets = [...runtimeStage.matchAll(/^COPY (?:--from=\S+ )?(\S+) (\S+)$/gm)].map((m) =>
      m[2] === "./" ? m[1]! : m[2]!.replace(/^\.\//, ""),
    );
    expect(targets.sort()).toEqual([...pkg.files].sort());
    expect(runtimeStage).toMatch(/^COPY package\.json package-lock\.json \.\/$/m);
  });

  it("runs the same entry point as the package's bin, and packs a fresh build", () => {
    expect(runtimeStage).toContain(`"/app/${pkg.bin.stickylb}"`);
    expect(pkg.files.some((f) => pkg.bin.stickylb!.startsWith(`${f}/`))).toBe(true);
    expect(pkg.scripts.prepack).toBe("npm run build");
  });
});
