/**
 * What `npm run build` (scripts/bundle.mjs) promises about dist/: Node built-ins are loaded
 * with require(), not with ESM imports. An ESM import of a built-in builds its namespace and
 * runs every lazy getter: on Node 22 and 24, `import "node:http"` loads undici and http2 with
 * it, measured at 4 MiB more idle RSS and 30 ms more start-up for the supervisor.
 */
import { execFileSync } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import { builtinModules } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

const DIST = join(dirname(dirname(import.meta.dirname)), "dist");
const BUILTINS = new Set(builtinModules);

async function bundledFiles(): Promise<string[]> {
  const names = await readdir(DIST);
  return names.filter((n) => /^chunk-[A-Z0-9]+\.js$/.test(n) || n === "cli.js" || n === "main.js");
}

describe("the bundle in dist/", () => {
  it("imports no Node built-in as an ES module, apart from the banner's createRequire", async () => {
    const files = await bundledFiles();
    expect(files).toContain("cli.js");
    const offending: string[] = [];
    for (const file of files) {
      const text = await readFile(join(DIST, file), "utf8");
      for (const m of text.matchAll(/^import\s+([^;]*?)\s*from\s*"([^"]+)";|\bimport\(\s*"([^"]+)"\s*\)/gm)) {
        const specifier = (m[2] ?? m[3] ?? "").replace(/^node:/, "");
        if (!BUILTINS.has(specifier) || m[1]?.includes("__bundleRequire")) continue;
        offending.push(`${file}: ${m[0].replace(/\s+/g, " ")}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it("starts without undici or http2, which the supervisor does not use", () => {
    const script = `await import(${JSON.stringify(join(DIST, "main.js"))});
      console.log(JSON.stringify(process.moduleLoadList.filter((m) => /undici|http2/.test(m))));`;
    const loaded = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(JSON.parse(loaded)).toEqual([]);
  });
});
