/**
 * The sidecar driver over a fake /proc (a directory tree in a temp dir), a fake clock and a
 * recording signal sender: finding the collector, a new pid after a stop as a restart, pid
 * reuse, validate through /proc/<pid>/exe, SIGHUP, aborts, and one run against the real /proc.
 */
import { chmod, copyFile, mkdir, rm, symlink } from "node:fs/promises";
import { execa } from "execa";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readStat, readUptimeMs, startedMsSinceBoot } from "../../src/collector/drivers/proc.js";
import { SIDECAR_TAIL_NOTE, SidecarDriver } from "../../src/collector/drivers/sidecar.js";
import type { SidecarDriverOptions } from "../../src/collector/drivers/sidecar.js";
import { createDefaultDeps, execaSpawner } from "../../src/deps.js";
import type { SpawnRequest } from "../../src/process/spawner.js";
import { writeFileAtomic } from "../../src/storage/index.js";
import { FakeClock, eventually } from "../support/fake-clock.js";
import { onCleanup, recordingLogger, tempDir, writeProgram } from "../process/helpers.js";

const OWN_PID = 7;
const CONFIG = "/var/lib/otelcol/supervisor/effective.yaml";

/** A collector stand-in for validate and --version: refuses configs that say "bad". */
const fakeBinary = `
import { readFileSync } from "node:fs";
const args = process.argv.slice(2);
if (args.includes("--version")) { console.log("otelcol-contrib version 0.165.0"); process.exit(0); }
const path = args[args.indexOf("--config") + 1];
if (readFileSync(path, "utf8").includes("bad")) { console.error("Error: invalid configuration: bad"); process.exit(1); }
`;

class FakeProc {
  constructor(readonly root: string) {}

  async add(pid: number, p: { exe?: string; argv: string[]; startTime?: string; state?: string }): Promise<void> {
    const dir = join(this.root, String(pid));
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const fields = [
      p.state ?? "S",
      "1",
      pid,
      pid,
      "0",
      "-1",
      "4194560",
      ...Array(8).fill("0"),
      "20",
      "0",
      "1",
      "0",
      p.startTime ?? "100",
      "1000",
    ];
    // comm with a space and a parenthesis, as real ones can have.
    await writeFileAtomic(join(dir, "stat"), `${pid} (otel col) ) ${fields.join(" ")}\n`);
    await writeFileAtomic(join(dir, "cmdline"), `${p.argv.join("\0")}\0`);
    if (p.exe) await symlink(p.exe, join(dir, "exe"));
  }

  async remove(pid: number): Promise<void> {
    await rm(join(this.root, String(pid)), { recursive: true, force: true });
  }
}

async function rig(overrides: Partial<SidecarDriverOptions> = {}, clockStart?: number) {
  const base = await tempDir("sidecar-driver-");
  const proc = new FakeProc(join(base, "proc"));
  await mkdir(proc.root);
  const executable = await writeProgram(base, "otelcol-contrib", fakeBinary);
  const clock = new FakeClock(clockStart);
  const logger = recordingLogger();
  const signals: Array<[number, NodeJS.Signals]> = [];
  const spawned: SpawnRequest[] = [];
  const deps = createDefaultDeps({ clock, logger, spawn: (request) => (spawned.push(request), execaSpawner(request)) });
  const driver = new SidecarDriver({
    executable,
    procRoot: proc.root,
    ownPid: OWN_PID,
    kill: (pid, signal) => void signals.push([pid, signal]),
    startTimeoutMs: 5_000,
    stopTimeoutMs: 1_000,
    deps,
    ...overrides,
  });
  /** Moves the fake clock until `promise` settles (the driver polls /proc through it). */
  async function pump<T>(promise: Promise<T>): Promise<T> {
    let settled = false;
    promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    await eventually(async () => settled || (await clock.advance(100), false), { what: "the driver to settle" });
    return promise;
  }
  const collector = (pid: number, startTime = "100") =>
    proc.add(pid, { exe: executable, argv: [executable, `--config=${CONFIG}`], startTime });
  return { base, proc, executable, clock, logger, signals, spawned, driver, pump, collector };
}

describe("SidecarDriver", () => {
  it("finds the collector by its executable, skipping other processes and itself", async () => {
    const r = await rig();
    await r.proc.add(1, { exe: "/pause", argv: ["/pause"] });
    await r.proc.add(OWN_PID, { exe: r.executable, argv: [r.executable] }); // never ourselves
    await r.proc.add(20, { exe: "/usr/bin/node", argv: ["node", "supervisor.js"] });
    await r.collector(30);
    const run = await r.pump(r.driver.start(CONFIG));
    expect(run.pid).toBe(30);
    expect(run.tail()).toBe(SIDECAR_TAIL_NOTE);
    expect(r.logger.records.some((rec) => rec.level === "warn")).toBe(false); // --config names our file
  });

  it("recognises the collector by argv[0] when its exe cannot be read (another user's process)", async () => {
    const r = await rig();
    await r.proc.add(40, { argv: [r.executable, "--config", CONFIG] });
    expect((await r.pump(r.driver.start(CONFIG))).pid).toBe(40);
  });

  it("waits for the collector to appear, and fails with SPAWN_FAILED at the start timeout", async () => {
    const r = await rig();
    const starting = r.driver.start(CONFIG);
    await r.clock.advance(1_000);
    await r.collector(50);
    expect((await r.pump(starting)).pid).toBe(50);

    const none = await rig();
    await expect(none.pump(none.driver.start(CONFIG))).rejects.toMatchObject({
      code: "SPAWN_FAILED",
      message: expect.stringMatching(/no collector process .* within 5000 ms/),
    });
  });

  it("stop: SIGTERM, the exit when the pid is gone, and the new pid the kubelet starts is the next run", async () => {
    const r = await rig();
    await r.collector(60);
    const run = await r.pump(r.driver.start(CONFIG));
    const stopped = r.driver.stop(run);
    await eventually(() => r.signals.length > 0);
    expect(r.signals).toEqual([[60, "SIGTERM"]]);
    await r.proc.remove(60);
    expect(await r.pump(stopped)).toEqual({ code: null, signal: null, tail: SIDECAR_TAIL_NOTE });
    await r.collector(61);
    const next = await r.pump(r.driver.start(CONFIG));
    expect(next.pid).toBe(61);
    expect(r.signals).toEqual([[60, "SIGTERM"]]); // no SIGKILL: it went within the grace
  });

  it("stop escalates to SIGKILL after the grace, and at once when its signal is aborted", async () => {
    const r = await rig();
    await r.collector(70);
    const run = await r.pump(r.driver.start(CONFIG));
    const stopped = r.driver.stop(run);
    await eventually(() => r.signals.length === 1);
    await r.clock.advance(1_000);
    await eventually(() => r.signals.length === 2);
    expect(r.signals).toEqual([
      [70, "SIGTERM"],
      [70, "SIGKILL"],
    ]);
    await r.proc.remove(70);
    await r.pump(stopped);

    await r.collector(71);
    const forced = r.driver.stop(await r.pump(r.driver.start(CONFIG)), AbortSignal.abort());
    await eventually(() => r.signals.length === 3);
    expect(r.signals[2]).toEqual([71, "SIGKILL"]);
    await r.proc.remove(71);
    await r.pump(forced);
  });

  it("a forced stop at our shutdown still sees the exit (the run is watched until it is released)", async () => {
    const lifetime = new AbortController();
    const r = await rig({ signal: lifetime.signal });
    await r.collector(80);
    const run = await r.pump(r.driver.start(CONFIG));
    lifetime.abort(); // shutdown while a restart's stop is under way
    const stopped = r.driver.stop(run, AbortSignal.abort());
    await eventually(() => r.signals.length === 1);
    await r.proc.remove(80);
    expect(await r.pump(stopped)).toMatchObject({ code: null, signal: null });
  });

  it("after release() a run left running is no longer polled, and its exit never settles", async () => {
    const r = await rig();
    await r.collector(82);
    const run = await r.pump(r.driver.start(CONFIG));
    let ended = false;
    void run.exit.then(() => (ended = true));
    r.driver.release();
    await r.clock.advance(1_000);
    const sleeps = r.clock.sleeps.length;
    await r.clock.advance(5_000);
    expect(r.clock.sleeps.length).toBe(sleeps);
    await r.proc.remove(82);
    await r.clock.advance(1_000);
    expect(ended).toBe(false);
  });

  it("a crash: the run's exit settles, and a pid that comes back with another start time is a new run", async () => {
    const r = await rig();
    await r.collector(80, "100");
    const run = await r.pump(r.driver.start(CONFIG));
    let exited = false;
    void run.exit.then(() => (exited = true));
    await r.clock.advance(1_000);
    expect(exited).toBe(false);
    await r.collector(80, "555"); // the kubelet's restart got the same pid
    await r.pump(run.exit);
    const next = await r.pump(r.driver.start(CONFIG));
    expect(next.pid).toBe(80);
    // The old run's identity is not signalled any more: a stop of it sends nothing.
    await r.pump(r.driver.stop(run));
    expect(r.signals).toEqual([]);
  });

  it("a collector that started before this supervisor wrote the config is stopped, not attached to; the next one is", async () => {
    // The driver is made a minute before the config's real change time (file times are coarse,
    // so "just before" would be ambiguous); with 1000 s of uptime now, the write reads as ≈ 1060 s.
    const r = await rig({}, Date.now() - 60_000);
    await writeFileAtomic(join(r.proc.root, "uptime"), "1000.00 2000.00\n");
    const config = join(r.base, "effective.yaml");
    await writeFileAtomic(config, "receivers: {}\n");
    await r.collector(90, "99000"); // started at 990 s: long before the write, on the config before it
    const starting = r.driver.start(config);
    await eventually(async () => r.signals.length > 0 || (await r.clock.advance(100), false), {
      what: "the stale collector to be stopped",
      timeoutMs: 15_000,
    });
    expect(r.signals).toEqual([[90, "SIGTERM"]]);
    await r.proc.remove(90);
    await r.collector(91, "110000"); // the kubelet's restart, at 1100 s
    expect((await r.pump(starting)).pid).toBe(91);
    expect(r.signals).toEqual([[90, "SIGTERM"]]); // once, and never the fresh one
  });

  it("a config written before this supervisor started says nothing: the running collector may have it by SIGHUP", async () => {
    const base = await tempDir("sidecar-earlier-");
    const config = join(base, "effective.yaml");
    await writeFileAtomic(config, "receivers: {}\n");
    const r = await rig({}, Date.now() + 1_000); // the driver is made after the write
    await writeFileAtomic(join(r.proc.root, "uptime"), "1000.00 2000.00\n");
    await r.collector(92, "10000"); // started long before the write
    expect((await r.pump(r.driver.start(config))).pid).toBe(92);
    expect(r.signals).toEqual([]);
  });

  it("a zombie (exited, not yet reaped) has ended", async () => {
    const r = await rig();
    await r.collector(90);
    const run = await r.pump(r.driver.start(CONFIG));
    await r.proc.add(90, { exe: r.executable, argv: [r.executable], state: "Z" });
    await r.pump(run.exit);
  });

  it("reload sends SIGHUP to the collector", async () => {
    const r = await rig();
    await r.collector(100);
    const run = await r.pump(r.driver.start(CONFIG));
    r.driver.reload(run);
    expect(r.signals).toEqual([[100, "SIGHUP"]]);
  });

  it("validate and --version run the collector's binary through /proc/<pid>/exe", async () => {
    const r = await rig();
    await r.collector(110);
    await r.pump(r.driver.start(CONFIG));
    const good = join(r.base, "good.yaml");
    const bad = join(r.base, "bad.yaml");
    await writeFileAtomic(good, "receivers: {}\n");
    await writeFileAtomic(bad, "bad\n");
    expect(await r.driver.validate(good, AbortSignal.timeout(10_000))).toEqual({ ok: true });
    expect(await r.driver.validate(bad, AbortSignal.timeout(10_000))).toEqual({
      ok: false,
      message: "Error: invalid configuration: bad",
    });
    expect(await r.driver.version(AbortSignal.timeout(10_000))).toEqual({
      name: "otelcol-contrib",
      version: "0.165.0",
    });
    expect(r.spawned.map((s) => s.file)).toEqual(Array(3).fill(join(r.proc.root, "110", "exe")));
    expect(r.spawned[0]?.args).toEqual(["validate", "--config", good]);
  });

  it("validate runs /proc/<pid>/exe also when the collector was recognised by argv[0] (a symlinked or bare-named executable)", async () => {
    const r = await rig();
    // The configured path is a name our container does not have; the process runs the real binary.
    await r.proc.add(115, { exe: r.executable, argv: ["otelcol-contrib", "--config", CONFIG] });
    const named = await rig({ executable: "otelcol-contrib", procRoot: r.proc.root });
    await named.pump(named.driver.start(CONFIG));
    const good = join(r.base, "good.yaml");
    await writeFileAtomic(good, "receivers: {}\n");
    expect(await named.driver.validate(good, AbortSignal.timeout(10_000))).toEqual({ ok: true });
    expect(named.spawned.map((s) => s.file)).toEqual([join(r.proc.root, "115", "exe")]);
  });

  it("stop ends at once when the collector cannot be signalled (EPERM), instead of waiting for an exit that will not come", async () => {
    const r = await rig({
      kill: () => {
        throw Object.assign(new Error("kill EPERM"), { code: "EPERM" });
      },
    });
    await r.collector(116);
    const run = await r.pump(r.driver.start(CONFIG));
    const exit = await r.pump(r.driver.stop(run));
    expect(exit.tail).toMatch(/could not be signalled \(EPERM\)/);
    expect(
      r.logger.records.some((rec) => rec.level === "error" && String(rec.msg).includes("cannot signal the collector")),
    ).toBe(true);
  });

  it("logs only argv[0] of a collector whose command line does not name our config (the rest may hold secrets)", async () => {
    const r = await rig();
    await r.proc.add(117, {
      exe: r.executable,
      argv: [r.executable, "--config=/etc/other.yaml", "--set=exporters.otlp.headers.authorization=Bearer s3cr3t"],
    });
    await r.pump(r.driver.start(CONFIG));
    expect(JSON.stringify(r.logger.records)).not.toContain("s3cr3t");
  });

  it("validate uses agent.sidecar.validate_executable when configured", async () => {
    const r = await rig();
    const r2 = await rig({ validateExecutable: r.executable, procRoot: r.proc.root });
    const good = join(r.base, "good.yaml");
    await writeFileAtomic(good, "receivers: {}\n");
    expect(await r2.driver.validate(good, AbortSignal.timeout(10_000))).toEqual({ ok: true });
    expect(r2.spawned.map((s) => s.file)).toEqual([r.executable]);
  });

  it("warns once when the collector's command line does not name the config we write", async () => {
    const r = await rig();
    await r.proc.add(120, { exe: r.executable, argv: [r.executable, "--config=/etc/other.yaml"] });
    await r.pump(r.driver.start(CONFIG));
    expect(r.logger.records.filter((rec) => rec.level === "warn").map((rec) => rec.msg)).toEqual([
      expect.stringMatching(/does not name the config/),
    ]);
  });

  it("a start still waiting for the collector gives up with ABORTED when the supervisor stops", async () => {
    const lifetime = new AbortController();
    const r = await rig({ signal: lifetime.signal });
    const starting = r.driver.start(CONFIG);
    await r.clock.advance(400);
    lifetime.abort();
    await expect(r.pump(starting)).rejects.toMatchObject({ code: "ABORTED" });
    expect(r.clock.pending).toBe(0); // the deadline timer is gone too
  });

  it("validate waiting for a collector gives up with ABORTED when its signal aborts", async () => {
    const r = await rig();
    const controller = new AbortController();
    const validating = r.driver.validate(join(r.base, "x.yaml"), controller.signal);
    await r.clock.advance(400);
    controller.abort();
    await expect(r.pump(validating)).rejects.toMatchObject({ code: "ABORTED" });
    // Never longer than the start timeout either: --version at start must not wait forever.
    await expect(r.pump(r.driver.version(new AbortController().signal))).rejects.toMatchObject({
      code: "SPAWN_FAILED",
    });
    expect(r.spawned).toEqual([]);
  });
});

describe("SidecarDriver on the real /proc", () => {
  it("finds a real process by its executable and sees it go", async () => {
    // A private copy: never attach to (and stop) a sleep of someone else's on this machine.
    const binary = join(await tempDir("sidecar-real-"), "collector-sleep");
    await copyFile("/bin/sleep", binary);
    await chmod(binary, 0o755);
    const sleeper = execa(binary, ["30"], { reject: false });
    onCleanup(() => void sleeper.kill("SIGKILL"));
    const driver = new SidecarDriver({ executable: binary, startTimeoutMs: 5_000, deps: createDefaultDeps() });
    const run = await driver.start("/nonexistent/effective.yaml");
    expect(run.pid).toBe(sleeper.pid);
    await driver.stop(run, AbortSignal.timeout(5_000));
    expect((await sleeper).signal).toBe("SIGTERM");
  });

  it("stops a real process that started before the config was written, and attaches to the one after", async () => {
    const binary = join(await tempDir("sidecar-real-"), "collector-sleep");
    await copyFile("/bin/sleep", binary);
    await chmod(binary, 0o755);
    const config = join(await tempDir("sidecar-real-config-"), "effective.yaml");
    const driver = new SidecarDriver({ executable: binary, startTimeoutMs: 10_000, deps: createDefaultDeps() });
    const stale = execa(binary, ["30"], { reject: false });
    onCleanup(() => void stale.kill("SIGKILL"));
    const staleStat = await eventually(() => readStat("/proc", stale.pid ?? -1), { what: "the first process" });
    // The write comes well after its start, as measured by the kernel's own clock.
    const startedMs = startedMsSinceBoot({ pid: stale.pid ?? -1, startTime: staleStat.startTime });
    await eventually(async () => ((await readUptimeMs("/proc")) ?? 0) > startedMs + 100, { what: "uptime to move on" });
    await writeFileAtomic(config, "receivers: {}\n");
    const starting = driver.start(config);
    expect((await stale).signal).toBe("SIGTERM");
    const fresh = execa(binary, ["30"], { reject: false });
    onCleanup(() => void fresh.kill("SIGKILL"));
    const run = await starting;
    expect(run.pid).toBe(fresh.pid);
    await driver.stop(run, AbortSignal.timeout(5_000));
  });
});
