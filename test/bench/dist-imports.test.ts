/**
 * The benchmarks use the built supervisor (dist/) directly and nothing else runs them in the
 * default suite, so a renamed export or a changed option would break `npm run bench` unnoticed
 * (the fleet simulation did twice: the protocol boundary stopped re-exporting generated types,
 * and the client's `endpoint` became `target`). Every named import from dist/ in bench/*.mjs
 * must exist in what `npm run build` wrote, and a fleet worker's agents must connect.
 */
import { fork } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { OpampTestServer } from "../support/opamp-test-server.js";

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

  it("runs a fleet worker whose agents connect and report their description", async () => {
    const server = await OpampTestServer.start();
    const worker = fork(join(BENCH, "fleet-worker.mjs"), [server.wsUrl, "3", "100"], {
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    const stderr: string[] = [];
    worker.stderr?.setEncoding("utf8").on("data", (chunk: string) => stderr.push(chunk));
    try {
      const connected = await new Promise<number>((resolve, reject) => {
        worker.on("message", (m: { type?: string; connected?: number }) => {
          if (m.type === "tick" && m.connected === 3) resolve(m.connected);
        });
        worker.once("exit", (code) => reject(new Error(`fleet worker exited ${String(code)}: ${stderr.join("")}`)));
      });
      expect(connected).toBe(3);
      await server.waitFor(
        (r) =>
          r.msg.agentDescription?.identifyingAttributes.some((a) => a.value?.value.value === "otelcol-fleet") === true,
        { timeoutMs: 5_000 },
      );
    } finally {
      worker.send({ type: "stop" });
      await server.close();
    }
  });
});
