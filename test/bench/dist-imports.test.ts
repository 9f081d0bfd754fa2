/**
 * The benchmarks import the built supervisor (dist/) directly; nothing else runs them in the
 * default suite, so a renamed or closed export would break `npm run bench` unnoticed (the fleet
 * simulation did, when the protocol boundary stopped re-exporting generated types). Every
 * named import from dist/ in bench/*.mjs must exist in what `npm run build` wrote.
 */
import { readFile, readdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const BENCH = join(dirname(dirname(import.meta.dirname)), "bench");

async function distImports(): Promise<Array<{ file: string; module: string; names: string[] }>> {
  const found = [];
  for (const file of (await readdir(BENCH)).filter((f) => f.endsWith(".mjs"))) {
    const text = await readFile(join(BENCH, file), "utf8");
    for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"(\.\.\/dist\/[^"]+)"/g)) {
      const names = (m[1] ?? "")
        .split(",")
        .map((part) => part.trim().split(/\s+as\s+/)[0] ?? "")
        .filter((name) => name !== "");
      found.push({ file, module: m[2] ?? "", names });
    }
  }
  return found;
}

describe("bench/ against dist/", () => {
  it("finds every name the benchmarks import from the build", async () => {
    const imports = await distImports();
    expect(imports.map((i) => i.file)).toContain("fleet-worker.mjs");
    const missing: string[] = [];
    for (const { file, module, names } of imports) {
      const loaded = (await import(resolve(BENCH, module))) as Record<string, unknown>;
      for (const name of names) if (!(name in loaded)) missing.push(`${file}: ${module} has no export ${name}`);
    }
    expect(missing).toEqual([]);
  });
});
