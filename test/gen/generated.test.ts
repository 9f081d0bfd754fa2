import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// src/gen is committed; this fails when someone edits it by hand or changes a .proto
// without running `npm run generate`.
describe("generated protobuf code", () => {
  it("matches what `npm run generate` produces from proto/", () => {
    const out = mkdtempSync(join(tmpdir(), "opamp-gen-"));
    try {
      execFileSync("npx", ["buf", "generate", "proto", "--template", "proto/buf.gen.yaml", "-o", out], {
        stdio: "pipe",
      });
      const fresh = readdirSync(join(out, "src/gen")).sort();
      expect(readdirSync("src/gen").sort()).toEqual(fresh);
      for (const file of fresh) {
        const committed = readFileSync(join("src/gen", file), "utf8");
        expect(committed, `src/gen/${file} differs from regenerated code; run npm run generate`).toBe(
          readFileSync(join(out, "src/gen", file), "utf8"),
        );
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
