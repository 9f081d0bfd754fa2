/**
 * The supervisor's transactions without a process or a server: a real controller over the
 * fake driver, a fake clock, real storage in a temp dir, and a reporter that records what
 * the server would hear. Time only moves when `drive()` moves it.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CollectorController } from "../../src/collector/controller.js";
import type { CollectorObserver } from "../../src/collector/controller.js";
import { resolveSupervisorConfig } from "../../src/config/load.js";
import type { Deps, FileSystem } from "../../src/deps.js";
import { createDefaultDeps, nodeFileSystem, silentLogger } from "../../src/deps.js";
import type { CollectorHealth } from "../../src/health/component-health.js";
import type { OpampClient } from "../../src/opamp/client.js";
import { AuditLog, StateStore, openStateDir } from "../../src/storage/index.js";
import type { StoredRemoteConfig, StoredRemoteConfigStatus } from "../../src/storage/index.js";
import type { Checkpoint, SupervisorContext } from "../../src/supervisor/context.js";
import { StatusReporter } from "../../src/supervisor/reporter.js";
import { FakeDriver } from "../collector/fake-driver.js";
import { BASE_COLLECTOR } from "../e2e/harness.js";
import { FakeClock } from "../support/fake-clock.js";

/** The local collector config: the same one the e2e workspaces run. */
export const LOCAL = BASE_COLLECTOR;

/** What the server hears, in order, in domain terms. */
export type Heard =
  | { kind: "status"; status: StoredRemoteConfigStatus }
  | { kind: "health"; health: CollectorHealth }
  | { kind: "effective"; yaml: string }
  | { kind: "checkpoint"; step: Checkpoint };

class RecordingReporter extends StatusReporter {
  constructor(
    readonly heard: Heard[],
    ...args: ConstructorParameters<typeof StatusReporter>
  ) {
    super(...args);
  }
  override health(health: CollectorHealth): void {
    this.heard.push({ kind: "health", health });
  }
  override effectiveConfig(yaml: string): void {
    this.heard.push({ kind: "effective", yaml });
  }
}

export interface HarnessOptions {
  hup?: boolean;
  local?: string;
  /** Replaces single filesystem calls (fault injection). */
  fs?: Partial<FileSystem>;
  /** Health window settings (defaults: 1 s interval, 5 passes in a window of 10). */
  health?: { interval?: string; steadyInterval?: string; window?: number; passesRequired?: number };
  /** More `agent:` keys, one "key: value" line each. */
  agent?: readonly string[];
  /** More capabilities switched on, by their supervisor.yaml names. */
  capabilities?: readonly string[];
  /** The controller's observer (what the supervisor's metrics hear). */
  observer?: CollectorObserver;
}

export interface Harness {
  dir: string;
  ctx: SupervisorContext;
  driver: FakeDriver;
  clock: FakeClock;
  heard: Heard[];
  checkpoints: Checkpoint[];
  /** Settles `work`, moving the fake clock 50 ms at a time while it runs. */
  drive<T>(work: Promise<T>, maxMs?: number): Promise<T>;
  statuses(): StoredRemoteConfigStatus["status"][];
  audit(): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

export async function makeHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), "supervisor-unit-"));
  const local = join(dir, "collector.yaml");
  await writeFile(local, options.local ?? LOCAL);
  const yaml = `server:
  endpoint: ws://127.0.0.1:1/v1/opamp
capabilities:
  accepts_remote_config: true
  reports_remote_config: true
  accepts_restart_command: true
${(options.capabilities ?? []).map((name) => `  ${name}: true\n`).join("")}agent:
  executable: ${process.execPath}
  config_files: [${local}]
  use_hup_config_reload: ${options.hup ?? false}
${(options.agent ?? []).map((line) => `  ${line}\n`).join("")}  health:
    endpoint: 127.0.0.1:13133
    interval: ${options.health?.interval ?? "1s"}
${options.health?.steadyInterval ? `    steady_interval: ${options.health.steadyInterval}\n` : ""}    window: ${options.health?.window ?? 10}
    passes_required: ${options.health?.passesRequired ?? 5}
  restart:
    initial_delay: 100ms
    max_delay: 2s
    multiplier: 2
    jitter: 0
storage:
  directory: ${join(dir, "state")}
`;
  const config = resolveSupervisorConfig(yaml, join(dir, "supervisor.yaml"), {});
  const clock = new FakeClock();
  const deps: Deps = createDefaultDeps({
    clock,
    random: () => 0.5,
    logger: silentLogger,
    fs: { ...nodeFileSystem, ...options.fs },
  });
  const stateDir = await openStateDir(config.storage.directory);
  const store = new StateStore({ dir: stateDir, clock });
  const audit = new AuditLog({ path: stateDir.file("audit.log"), clock });
  const heard: Heard[] = [];
  // What the server would hear: the remote config statuses as the reporter sends them.
  const client = {
    setStatus: (kind: string, value: StoredRemoteConfigStatus) => {
      if (kind === "remoteConfigStatus") heard.push({ kind: "status", status: value });
    },
  } as unknown as OpampClient;
  const reporter = new RecordingReporter(heard, client, config.capabilities, store);
  const driver = new FakeDriver();
  const lifetime = new AbortController();
  const collector = new CollectorController({
    config,
    deps,
    stateDir,
    signal: lifetime.signal,
    driver,
    probeFor: driver.probe,
    onHealth: (health) => reporter.health(health),
    ...(options.observer ? { observer: options.observer } : {}),
  });
  const checkpoints: Checkpoint[] = [];
  const ctx: SupervisorContext = {
    config,
    deps,
    logger: silentLogger,
    stateDir,
    store,
    audit,
    collector,
    reporter,
    hooks: {
      checkpoint: (step) => {
        checkpoints.push(step);
        heard.push({ kind: "checkpoint", step });
      },
    },
    signal: lifetime.signal,
  };
  const loop = collector.run(lifetime.signal);

  const drive = async <T>(work: Promise<T>, maxMs = 300_000): Promise<T> => {
    let done = false;
    const settled = work.finally(() => (done = true));
    for (let t = 0; !done && t < maxMs; t += 50) {
      await clock.advance(50);
      // Real file I/O (state documents, fsync) completes on the real clock: give it a turn.
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    if (!done) throw new Error(`still running after ${maxMs} ms of fake time`);
    return settled;
  };

  const composed = await collector.composeFallback(undefined);
  if (!composed.ok) throw new Error(composed.message);
  await drive(collector.start(composed.composition));
  await drive(waitUntil(() => collector.health?.healthy === true));

  return {
    dir,
    ctx,
    driver,
    clock,
    heard,
    checkpoints,
    drive,
    statuses: () => heard.flatMap((h) => (h.kind === "status" ? [h.status.status] : [])),
    audit: async () =>
      (await readFile(stateDir.file("audit.log"), "utf8").catch(() => ""))
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    async close() {
      lifetime.abort();
      await collector.close();
      await loop;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once `check` holds; meant to be driven (it polls on the event loop, not the clock). */
export async function waitUntil(check: () => boolean, what = "the condition"): Promise<void> {
  for (let turns = 0; !check(); turns++) {
    if (turns > 200_000) throw new Error(`never saw ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A remote config offer with one file per entry. */
export function offer(n: number, files: Record<string, string>): StoredRemoteConfig {
  return {
    hash: new Uint8Array([0xc0, n]),
    configMap: Object.fromEntries(
      Object.entries(files).map(([name, body]) => [name, { body: enc(body), contentType: "text/yaml" }]),
    ),
  };
}

/** A remote file that adds a marker exporter to the traces pipeline, plus fake behaviour. */
export function marked(marker: string, fake = ""): string {
  return `exporters:\n  debug/${marker}: {}\nservice:\n  pipelines:\n    traces:\n      exporters: [debug/${marker}]\n${fake ? `fake:\n${fake}` : ""}`;
}

/** True when the run's config carries `debug/<marker>`. */
export function runs(config: Record<string, unknown> | undefined, marker: string): boolean {
  return Object.keys((config?.["exporters"] as object | undefined) ?? {}).includes(`debug/${marker}`);
}
