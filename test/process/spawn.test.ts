import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { symlink } from "node:fs/promises";
import { buildCommand, collectorArgs, findSetpriv } from "../../src/process/spawn.js";
import { isAlive, killAtCleanup, tempDir, waitFor, writeProgram } from "./helpers.js";
import { transpileToDir } from "./transpile.js";

describe("collector command line", () => {
  it("appends one --config per file after the configured args", () => {
    expect(
      collectorArgs({ executable: "otelcol", args: ["--feature-gates=a"], configPaths: ["/a.yaml", "/b.yaml"] }),
    ).toEqual(["--feature-gates=a", "--config", "/a.yaml", "--config", "/b.yaml"]);
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
        "src/process/spawner.ts",
      ]);
      // The transpiled spawner imports execa: let it resolve from this repository.
      await symlink(join(import.meta.dirname, "../../node_modules"), join(compiled, "node_modules"));
      const collector = await writeProgram(dir, "collector.mjs", `setInterval(() => {}, 1000);`);
      // The intermediate process plays the supervisor: it starts the collector the way the
      // child driver does (setpriv command, execa, own group), reports the pid, and is then
      // SIGKILLed (no cleanup code can run).
      const supervisor = await writeProgram(
        dir,
        "supervisor.mjs",
        `import { buildCommand, findSetpriv } from ${JSON.stringify(join(compiled, "src/process/spawn.js"))};
         import { execaSpawner } from ${JSON.stringify(join(compiled, "src/process/spawner.js"))};
         const command = buildCommand({ executable: ${JSON.stringify(collector)}, configPaths: [] }, await findSetpriv());
         const child = await execaSpawner({ file: command.file, args: command.args, env: process.env, detached: true, forceKillAfterMs: 1000, buffer: false });
         console.log(JSON.stringify({ pid: child.pid, deathSignal: command.deathSignal }));
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
