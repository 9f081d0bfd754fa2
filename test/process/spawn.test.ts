import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildCommand, collectorArgs, findSetpriv, spawnCollector } from "../../src/process/spawn.js";
import { isAlive, killAtCleanup, tempDir, waitFor, writeProgram } from "./helpers.js";
import { transpileToDir } from "./transpile.js";

const printArgsAndEnv = `console.log(JSON.stringify({ argv: process.argv.slice(2), env: process.env.FROM_TEST ?? null, base: process.env.FROM_BASE ?? null }));`;

async function stdoutOf(child: import("node:child_process").ChildProcess): Promise<string> {
  let out = "";
  child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  await new Promise((resolve) => child.once("close", resolve));
  return out;
}

describe("collector command line", () => {
  it("appends one --config per file after the configured args", () => {
    expect(collectorArgs({ executable: "otelcol", args: ["--feature-gates=a"], configPaths: ["/a.yaml", "/b.yaml"] })).toEqual([
      "--feature-gates=a",
      "--config",
      "/a.yaml",
      "--config",
      "/b.yaml",
    ]);
  });

  it("wraps the command in setpriv --pdeathsig SIGKILL when a setpriv path is given", () => {
    expect(buildCommand({ executable: "/opt/otelcol", configPaths: ["/c.yaml"] }, "/usr/bin/setpriv")).toEqual({
      file: "/usr/bin/setpriv",
      args: ["--pdeathsig", "SIGKILL", "--", "/opt/otelcol", "--config", "/c.yaml"],
      deathSignal: true,
    });
    expect(buildCommand({ executable: "/opt/otelcol", configPaths: [] })).toEqual({
      file: "/opt/otelcol",
      args: [],
      deathSignal: false,
    });
  });
});

describe("spawnCollector", () => {
  it("passes args, --config flags and the merged environment", async () => {
    const dir = await tempDir();
    const exe = await writeProgram(dir, "args.mjs", printArgsAndEnv);
    const { child, command } = await spawnCollector({
      executable: exe,
      args: ["--set=x=1"],
      configPaths: ["/one.yaml"],
      env: { FROM_TEST: "yes" },
      baseEnv: { ...process.env, FROM_BASE: "base" },
    });
    const out = JSON.parse(await stdoutOf(child)) as unknown;
    expect(out).toEqual({ argv: ["--set=x=1", "--config", "/one.yaml"], env: "yes", base: "base" });
    expect(command.deathSignal).toBe((await findSetpriv()) !== undefined);
  });

  it("starts the child as the leader of its own process group", async () => {
    const dir = await tempDir();
    const exe = await writeProgram(dir, "sleep.mjs", `console.log("up"); setInterval(() => {}, 1000);`);
    const { child, pid } = await spawnCollector({ executable: exe, configPaths: [] });
    killAtCleanup(pid);
    await waitFor(() => (child.stdout?.read() as Buffer | null) !== null);
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
    expect(pgrp).toBe(pid);
    child.kill("SIGKILL");
  });

  it("rejects with SPAWN_FAILED for a missing executable", async () => {
    await expect(spawnCollector({ executable: "/nonexistent/otelcol", configPaths: [] })).rejects.toMatchObject({
      code: "SPAWN_FAILED",
    });
    await expect(
      spawnCollector({ executable: "no-such-collector-binary-xyz", configPaths: [], deathSignal: false }),
    ).rejects.toMatchObject({ code: "SPAWN_FAILED" });
  });
});

describe("parent-death protection", () => {
  it.skipIf(process.platform !== "linux")(
    "kills the collector when its parent (the supervisor) is SIGKILLed",
    async () => {
      expect(await findSetpriv()).toBeDefined();
      const dir = await tempDir();
      const compiled = await transpileToDir(await tempDir("transpiled-"), [
        "src/errors.ts",
        "src/process/exit.ts",
        "src/process/spawn.ts",
      ]);
      const collector = await writeProgram(dir, "collector.mjs", `setInterval(() => {}, 1000);`);
      // The intermediate process plays the supervisor: it starts the collector through
      // spawn.ts, reports the pid, and is then SIGKILLed (no cleanup code can run).
      const supervisor = await writeProgram(
        dir,
        "supervisor.mjs",
        `import { spawnCollector } from ${JSON.stringify(join(compiled, "src/process/spawn.js"))};
         const { pid, command } = await spawnCollector({ executable: ${JSON.stringify(collector)}, configPaths: [] });
         console.log(JSON.stringify({ pid, deathSignal: command.deathSignal }));
         setInterval(() => {}, 1000);`,
      );
      const parent = spawn(supervisor, [], { stdio: ["ignore", "pipe", "inherit"] });
      killAtCleanup(parent.pid);
      let out = "";
      parent.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
      await waitFor(() => out.includes("\n"));
      const { pid, deathSignal } = JSON.parse(out) as { pid: number; deathSignal: boolean };
      killAtCleanup(pid);
      expect(deathSignal).toBe(true);
      // setpriv execs the collector in place: same pid, collector's command line.
      await waitFor(async () => (await readFile(`/proc/${pid}/cmdline`, "utf8")).includes("collector.mjs"));
      expect(await isAlive(pid)).toBe(true);

      parent.kill("SIGKILL");
      await waitFor(async () => !(await isAlive(pid)), 5_000);
    },
  );
});
