import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Clock, Deps } from "../../src/deps.js";
import { systemClock } from "../../src/deps.js";
import { CollectorProcess } from "../../src/process/collector-process.js";
import type { CollectorEvents, CollectorProcessOptions } from "../../src/process/collector-types.js";
import { readPidFile } from "../../src/process/pidfile.js";
import type { StateDir } from "../../src/storage/state-dir.js";
import { openStateDir } from "../../src/storage/state-dir.js";
import { FakeClock, onCleanup, recordingLogger, tempDir, waitFor, writeProgram } from "./helpers.js";

/**
 * A collector stand-in driven by its (JSON) config file:
 * {exitAfterMs, exitCode, ignoreTerm, say}. Prints "ready" once its SIGHUP handler is set.
 */
const fakeCollector = `
import { readFileSync } from "node:fs";
const args = process.argv.slice(2);
const path = args[args.indexOf("--config") + 1];
const cfg = JSON.parse(readFileSync(path, "utf8"));
if (cfg.say) console.log(cfg.say);
if (cfg.ignoreTerm) process.on("SIGTERM", () => console.log("ignoring SIGTERM"));
process.on("SIGHUP", () => console.log("reloaded " + readFileSync(path, "utf8").trim()));
if (cfg.exitAfterMs !== undefined) setTimeout(() => { console.error("fatal: boom"); process.exit(cfg.exitCode ?? 1); }, cfg.exitAfterMs);
console.log("ready");
setInterval(() => {}, 1000);
`;

interface Rig {
  proc: CollectorProcess;
  dir: StateDir;
  logger: ReturnType<typeof recordingLogger>;
  config: (content: object, name?: string) => Promise<string>;
  events: Array<[keyof CollectorEvents, unknown]>;
  lines: () => string[];
  controller: AbortController;
}

async function rig(overrides: Partial<CollectorProcessOptions> & { clock?: Clock } = {}): Promise<Rig> {
  const base = await tempDir();
  const dir = await openStateDir(join(base, "state"));
  const executable = await writeProgram(base, "otelcol.mjs", fakeCollector);
  const logger = recordingLogger();
  const deps: Deps = { clock: overrides.clock ?? systemClock, random: () => 0, logger };
  const proc = new CollectorProcess({
    executable,
    stateDir: dir,
    stopTimeoutMs: 2_000,
    restartPolicy: { initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2, jitter: 0.2, resetAfterMs: 10_000 },
    deps,
    ...overrides,
  });
  const controller = new AbortController();
  onCleanup(async () => {
    controller.abort();
    await proc.kill();
  });
  const events: Rig["events"] = [];
  for (const name of ["started", "exit", "crashed", "restarting"] as const) {
    proc.on(name, (payload) => events.push([name, payload]));
  }
  return {
    proc,
    dir,
    logger,
    events,
    controller,
    config: async (content, name = "config.json") => {
      const path = join(base, name);
      await writeFile(path, JSON.stringify(content));
      return path;
    },
    lines: () =>
      logger.records.filter((r) => r.bindings["component"] === "collector").map((r) => String(r.msg)),
  };
}

describe("CollectorProcess", () => {
  it("starts, writes the pidfile, passes output through tagged, and stops gracefully", async () => {
    const r = await rig();
    await r.proc.start([await r.config({ say: "hello" })], r.controller.signal);
    expect(r.proc.state).toMatchObject({ id: "running", healthySeen: false });
    const pid = r.proc.state.id === "running" ? r.proc.state.child.pid : -1;
    expect(await readPidFile(r.dir)).toMatchObject({ pid });
    await waitFor(() => r.lines().includes("ready"));
    const record = r.logger.records.find((rec) => rec.msg === "hello");
    expect(record).toMatchObject({ bindings: { component: "collector" }, obj: { stream: "stdout" } });

    const [a, b] = await Promise.all([r.proc.stop(), r.proc.stop()]);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ code: null, signal: "SIGTERM" });
    expect(a?.tail).toContain("hello");
    expect(r.proc.state).toEqual({ id: "stopped" });
    expect(await r.proc.stop()).toBeUndefined();
    await waitFor(async () => (await readPidFile(r.dir)) === undefined);
    expect(r.events.map(([name]) => name)).toEqual(["started", "exit"]);
    expect(r.events[1]?.[1]).toMatchObject({ expected: true });
  });

  it("refuses SIGHUP before the collector was healthy and delivers it after", async () => {
    const r = await rig();
    await r.proc.start([await r.config({ v: 1 })], r.controller.signal);
    await waitFor(() => r.lines().includes("ready"));
    expect(r.proc.reload()).toEqual({ ok: false, reason: "not-healthy-yet" });
    r.proc.markHealthy();
    expect(r.proc.state).toMatchObject({ id: "running", healthySeen: true });
    expect(r.proc.reload()).toEqual({ ok: true });
    await waitFor(() => r.lines().some((line) => line.startsWith("reloaded")));
    expect(r.proc.state.id).toBe("running");
    await r.proc.stop();
    expect(r.proc.reload()).toEqual({ ok: false, reason: "not-running" });
  });

  it("restarts a crashed collector after growing backoff delays from the restart policy", async () => {
    const clock = new FakeClock();
    const r = await rig({ clock });
    await r.proc.start([await r.config({ exitAfterMs: 30, exitCode: 3 })], r.controller.signal);

    await waitFor(() => r.proc.state.id === "backoff");
    expect(r.proc.state).toEqual({ id: "backoff", until: clock.time + 100, attempt: 1 });
    const crashed = r.events.find(([name]) => name === "crashed")?.[1];
    expect(crashed).toMatchObject({ attempt: 1, delayMs: 100, exit: { code: 3, signal: null } });
    expect((crashed as CollectorEvents["crashed"]).exit.tail).toContain("fatal: boom");
    expect(clock.sleeps).toEqual([100]);

    clock.advance(99);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(r.proc.state.id).toBe("backoff");
    clock.advance(1);
    await waitFor(() => r.events.some(([name, p]) => name === "started" && (p as { attempt: number }).attempt === 1));
    await waitFor(() => r.proc.state.id === "backoff" && r.proc.state.attempt === 2);
    expect(clock.sleeps).toEqual([100, 200]);

    expect(r.events.map(([name]) => name)).toEqual(["started", "exit", "crashed", "restarting", "started", "exit", "crashed"]);
    await r.proc.stop();
    expect(r.proc.state).toEqual({ id: "stopped" });
    expect(clock.pending).toBe(0);
  });

  it("does not restart when autoRestart is off or the exit was announced with expectExit()", async () => {
    const r = await rig();
    await r.proc.start([await r.config({ exitAfterMs: 30, exitCode: 1 })], r.controller.signal, { autoRestart: false });
    await waitFor(() => r.proc.state.id === "crashed");
    expect(r.events.find(([name]) => name === "exit")?.[1]).toMatchObject({ code: 1, expected: false });

    await r.proc.start([await r.config({ exitAfterMs: 100, exitCode: 1 }, "b.json")], r.controller.signal);
    r.proc.expectExit();
    await waitFor(() => r.proc.state.id === "crashed");
    expect(r.events.filter(([name]) => name === "exit").at(-1)?.[1]).toMatchObject({ expected: true });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(r.proc.state.id).toBe("crashed");
    expect(r.events.some(([name]) => name === "crashed")).toBe(false);
  });

  it("escalates stop() to SIGKILL for a collector that ignores SIGTERM", async () => {
    const r = await rig({ stopTimeoutMs: 200 });
    await r.proc.start([await r.config({ ignoreTerm: true })], r.controller.signal);
    await waitFor(() => r.lines().includes("ready"));
    const exit = await r.proc.stop();
    expect(exit).toMatchObject({ code: null, signal: "SIGKILL" });
    expect(exit?.tail).toContain("ignoring SIGTERM");
  });

  it("kill() forces an immediate stop", async () => {
    const r = await rig({ stopTimeoutMs: 60_000 });
    await r.proc.start([await r.config({ ignoreTerm: true })], r.controller.signal);
    await waitFor(() => r.lines().includes("ready"));
    const graceful = r.proc.stop();
    expect(await r.proc.kill()).toMatchObject({ signal: "SIGKILL" });
    expect(await graceful).toMatchObject({ signal: "SIGKILL" });
    expect(r.proc.state).toEqual({ id: "stopped" });
  });

  it("stops the collector and cancels pending restarts when the run's signal aborts", async () => {
    const clock = new FakeClock();
    const r = await rig({ clock });
    await r.proc.start([await r.config({ exitAfterMs: 30 })], r.controller.signal);
    await waitFor(() => r.proc.state.id === "backoff");
    r.controller.abort();
    await waitFor(() => r.proc.state.id === "stopped");
    clock.advance(10_000);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(r.proc.state.id).toBe("stopped");

    const again = new AbortController();
    await r.proc.start([await r.config({})], again.signal);
    again.abort();
    await waitFor(() => r.proc.state.id === "stopped");
    expect(r.events.at(-1)).toEqual(["exit", expect.objectContaining({ expected: true })]);
  });

  it("writes collector output to a log file in the state dir in file mode", async () => {
    const r = await rig({ output: { mode: "file" } });
    await r.proc.start([await r.config({ say: "to the file" })], r.controller.signal);
    await waitFor(async () => (await readFile(r.dir.file("collector.log"), "utf8").catch(() => "")).includes("ready"));
    expect(r.lines()).toEqual([]);
    const exit = await r.proc.stop();
    expect(exit?.tail).toContain("to the file");
  });

  it("rejects start() with SPAWN_FAILED for a missing executable and stays stopped", async () => {
    const r = await rig({ executable: "/nonexistent/otelcol" });
    await expect(r.proc.start(["/c.yaml"], r.controller.signal)).rejects.toMatchObject({ code: "SPAWN_FAILED" });
    expect(r.proc.state).toEqual({ id: "stopped" });
  });

  it("refuses start() while a collector is running", async () => {
    const r = await rig();
    await r.proc.start([await r.config({})], r.controller.signal);
    await expect(r.proc.start([await r.config({})], r.controller.signal)).rejects.toThrow(/while running/);
  });
});
