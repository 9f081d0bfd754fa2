import { describe, expect, it } from "vitest";
import { killProcess, stopProcess } from "../../src/process/kill.js";
import { spawnCollector } from "../../src/process/spawn.js";
import { isAlive, killAtCleanup, tempDir, waitFor, writeProgram } from "./helpers.js";

/** Starts `source` as a collector-like child and waits for it to print "ready". */
async function startReady(source: string): Promise<Awaited<ReturnType<typeof spawnCollector>> & { output: () => string }> {
  const dir = await tempDir();
  const exe = await writeProgram(dir, "child.mjs", source);
  const spawned = await spawnCollector({ executable: exe, configPaths: [] });
  killAtCleanup(spawned.pid);
  let output = "";
  spawned.child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  spawned.child.stderr?.resume();
  await waitFor(() => output.includes("ready"));
  return { ...spawned, output: () => output };
}

const graceful = `process.on("SIGTERM", () => { console.log("bye"); process.exit(0); }); console.log("ready"); setInterval(() => {}, 1000);`;
const stubborn = `process.on("SIGTERM", () => console.log("ignoring SIGTERM")); console.log("ready"); setInterval(() => {}, 1000);`;

describe("stopProcess", () => {
  it("stops a child that honours SIGTERM without escalating", async () => {
    const { child, output } = await startReady(graceful);
    const outcome = await stopProcess(child, { timeoutMs: 5_000 });
    expect(outcome).toEqual({ code: 0, signal: null, forced: false });
    await waitFor(() => output().includes("bye"));
  });

  it("escalates to SIGKILL when the child ignores SIGTERM past the deadline", async () => {
    const { child, output } = await startReady(stubborn);
    const started = Date.now();
    const outcome = await stopProcess(child, { timeoutMs: 300 });
    expect(outcome).toEqual({ code: null, signal: "SIGKILL", forced: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(output()).toContain("ignoring SIGTERM");
  });

  it("is idempotent: concurrent calls join, a later call resolves at once", async () => {
    const { child } = await startReady(graceful);
    const first = stopProcess(child, { timeoutMs: 5_000 });
    const second = stopProcess(child, { timeoutMs: 5_000 });
    expect(second).toBe(first);
    const outcome = await first;
    expect(await stopProcess(child, { timeoutMs: 5_000 })).toEqual(outcome);
  });

  it("sends SIGKILL at once when its abort signal fires during the grace period", async () => {
    const { child } = await startReady(stubborn);
    const controller = new AbortController();
    const stopping = stopProcess(child, { timeoutMs: 60_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect(await stopping).toMatchObject({ signal: "SIGKILL", forced: true });
  });

  it("signals the whole process group, so grandchildren go too", async () => {
    const { child, output } = await startReady(`
      import { spawn } from "node:child_process";
      const g = spawn(process.execPath, ["-e", "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: "ignore" });
      console.log("grandchild " + g.pid);
      process.on("SIGTERM", () => {});
      setTimeout(() => console.log("ready"), 100);
      setInterval(() => {}, 1000);`);
    const grandchild = Number(/grandchild (\d+)/.exec(output())?.[1]);
    killAtCleanup(grandchild);
    expect(await isAlive(grandchild)).toBe(true);
    await stopProcess(child, { timeoutMs: 200 });
    await waitFor(async () => !(await isAlive(grandchild)));
  });
});

describe("killProcess", () => {
  it("kills immediately and escalates a graceful stop in progress", async () => {
    const { child } = await startReady(stubborn);
    const graceful = stopProcess(child, { timeoutMs: 60_000 });
    const forced = await killProcess(child);
    expect(forced).toMatchObject({ signal: "SIGKILL" });
    expect(await graceful).toMatchObject({ signal: "SIGKILL" });
  });
});
