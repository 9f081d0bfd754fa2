/**
 * The child-process driver with real processes: start, pidfile, output, stop escalation,
 * the process group, SIGHUP, and the OS reason when the collector cannot be started.
 */
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ChildDriver } from "../../src/collector/drivers/child.js";
import type { ChildDriverOptions } from "../../src/collector/drivers/child.js";
import type { CollectorRun } from "../../src/collector/driver.js";
import { createDefaultDeps, execaSpawner } from "../../src/deps.js";
import type { SpawnRequest } from "../../src/process/spawner.js";
import { readPidFile } from "../../src/process/pidfile.js";
import { openStateDir } from "../../src/storage/state-dir.js";
import {
  isAlive,
  killAtCleanup,
  onCleanup,
  recordingLogger,
  tempDir,
  waitFor,
  writeProgram,
} from "../process/helpers.js";

/** A collector stand-in driven by its JSON config: {say, ignoreTerm, grandchild}. */
const fakeCollector = `
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
const args = process.argv.slice(2);
const path = args[args.indexOf("--config") + 1];
const cfg = JSON.parse(readFileSync(path, "utf8"));
if (cfg.say) console.log(cfg.say);
if (cfg.ignoreTerm) process.on("SIGTERM", () => console.log("ignoring SIGTERM"));
if (cfg.grandchild) {
  const g = spawn(process.execPath, ["-e", "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: "ignore" });
  console.log("grandchild " + g.pid);
}
process.on("SIGHUP", () => console.log("reloaded " + readFileSync(path, "utf8").trim()));
setTimeout(() => console.log("ready"), cfg.grandchild ? 100 : 0);
setInterval(() => {}, 1000);
`;

async function rig(overrides: Partial<ChildDriverOptions> = {}) {
  const base = await tempDir("child-driver-");
  const stateDir = await openStateDir(join(base, "state"));
  const executable = await writeProgram(base, "otelcol.mjs", fakeCollector);
  const logger = recordingLogger();
  const spawned: SpawnRequest[] = [];
  const deps = createDefaultDeps({ logger, spawn: (request) => (spawned.push(request), execaSpawner(request)) });
  const driver = new ChildDriver({ executable, stateDir, stopTimeoutMs: 2_000, deps, ...overrides });
  const runs: CollectorRun[] = [];
  onCleanup(async () => {
    for (const run of runs) {
      killAtCleanup(run.pid);
      await driver.stop(run, AbortSignal.abort());
    }
  });
  const lines = (): string[] =>
    logger.records.filter((r) => r.bindings["component"] === "collector").map((r) => String(r.msg));
  return {
    base,
    stateDir,
    driver,
    spawned,
    lines,
    config: async (content: object, name = "config.json") => {
      const path = join(base, name);
      await writeFile(path, JSON.stringify(content));
      return path;
    },
    start: async (configPath: string) => {
      const run = await driver.start(configPath);
      runs.push(run);
      return run;
    },
  };
}

describe("ChildDriver", () => {
  it("starts, writes the pidfile, passes output through tagged, and stops gracefully", async () => {
    const r = await rig();
    const run = await r.start(await r.config({ say: "hello" }));
    expect(await readPidFile(r.stateDir)).toMatchObject({ pid: run.pid });
    await waitFor(() => r.lines().includes("ready"));
    expect(r.lines()).toContain("hello");
    const exit = await r.driver.stop(run);
    expect(exit).toMatchObject({ code: null, signal: "SIGTERM" });
    expect(exit.tail).toContain("hello");
    expect(await readPidFile(r.stateDir)).toBeUndefined();
    // Detached, in its own process group, wrapped in setpriv where there is one.
    expect(r.spawned[0]).toMatchObject({ detached: true, buffer: false });
  });

  it("delivers SIGHUP to the collector", async () => {
    const r = await rig();
    const run = await r.start(await r.config({ v: 1 }));
    await waitFor(() => r.lines().includes("ready"));
    r.driver.reload(run);
    await waitFor(() => r.lines().some((line) => line.startsWith("reloaded")));
    expect(await isAlive(run.pid)).toBe(true);
  });

  it("escalates a stop to SIGKILL for a collector that ignores SIGTERM", async () => {
    const r = await rig({ stopTimeoutMs: 200 });
    const run = await r.start(await r.config({ ignoreTerm: true }));
    await waitFor(() => r.lines().includes("ready"));
    const exit = await r.driver.stop(run);
    expect(exit).toMatchObject({ code: null, signal: "SIGKILL" });
    expect(exit.tail).toContain("ignoring SIGTERM");
  });

  it("sends SIGKILL at once when the stop's signal aborts during the grace period", async () => {
    const r = await rig({ stopTimeoutMs: 60_000 });
    const run = await r.start(await r.config({ ignoreTerm: true }));
    await waitFor(() => r.lines().includes("ready"));
    const abort = new AbortController();
    const stopping = r.driver.stop(run, abort.signal);
    await waitFor(() => r.lines().includes("ignoring SIGTERM"));
    abort.abort();
    expect(await stopping).toMatchObject({ signal: "SIGKILL" });
  });

  it("takes the collector's whole process group with it, so grandchildren go too", async () => {
    const r = await rig({ stopTimeoutMs: 200 });
    const run = await r.start(await r.config({ grandchild: true }));
    await waitFor(() => r.lines().includes("ready"));
    const grandchild = Number(/grandchild (\d+)/.exec(r.lines().join("\n"))?.[1]);
    killAtCleanup(grandchild);
    expect(await isAlive(grandchild)).toBe(true);
    await r.driver.stop(run);
    await waitFor(async () => !(await isAlive(grandchild)));
  });

  it("writes collector output to collector.log in the state dir in file mode", async () => {
    const r = await rig({ output: { mode: "file" } });
    const run = await r.start(await r.config({ say: "to the file" }));
    await waitFor(async () =>
      (await readFile(r.stateDir.file("collector.log"), "utf8").catch(() => "")).includes("ready"),
    );
    expect(r.lines()).toEqual([]);
    expect((await r.driver.stop(run)).tail).toContain("to the file");
  });

  it("refuses to start a missing or non-executable collector with the OS reason", async () => {
    const r = await rig({ executable: "/nonexistent/otelcol" });
    await expect(r.driver.start("/c.yaml")).rejects.toMatchObject({
      code: "SPAWN_FAILED",
      message: "cannot run /nonexistent/otelcol: ENOENT (no such file or directory)",
    });
    const plain = join(r.base, "not-executable");
    await writeFile(plain, "#!/bin/sh\n");
    await chmod(plain, 0o644);
    const denied = await rig({ executable: plain });
    // root may execute anything with an x bit; without one even root gets EACCES.
    await expect(denied.driver.start("/c.yaml")).rejects.toMatchObject({
      code: "SPAWN_FAILED",
      message: expect.stringContaining("EACCES (permission denied)"),
    });
    expect(r.spawned).toEqual([]);
  });

  it("runs validate and --version through the spawn seam, with the run's args and env", async () => {
    const base = await tempDir("child-driver-");
    const exe = await writeProgram(
      base,
      "otelcol.mjs",
      `if (process.argv.includes("--version")) { console.log("otelcol-x version 1.2.3"); process.exit(0); }
       if (process.argv[2] === "validate") { console.error(process.env.MARK === "yes" && process.argv.includes("--feature-gates=x") ? "Error: marked" : "Error: unmarked"); process.exit(1); }`,
    );
    const spawned: SpawnRequest[] = [];
    const deps = createDefaultDeps({ spawn: (request) => (spawned.push(request), execaSpawner(request)) });
    const driver = new ChildDriver({ executable: exe, args: ["--feature-gates=x"], env: { MARK: "yes" }, deps });
    expect(await driver.version(new AbortController().signal)).toEqual({ name: "otelcol-x", version: "1.2.3" });
    expect(await driver.validate("/c.yaml", new AbortController().signal)).toEqual({
      ok: false,
      message: "Error: marked",
    });
    expect(spawned.map((s) => s.args[0])).toEqual(["--version", "validate"]);
    expect(spawned[1]).toMatchObject({ timeoutMs: 30_000, forceKillAfterMs: 2_000, buffer: true });
  });
});
