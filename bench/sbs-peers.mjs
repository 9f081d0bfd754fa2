// The two supervisors of the side-by-side benchmark, started the same way: a workspace with a
// supervisor.yaml, one collector binary (interop/bin/otelcol-gopeer, which has both the
// health_check extension our supervisor probes and the opamp extension the Go supervisor needs),
// one local collector config, a pinned instance uid, and the opamp-go server's control API.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, ROOT, freePort } from "../.bench-build/test/e2e/harness.js";
import { collectorYaml } from "../.bench-build/test/interop/peers.js";
import { sleep } from "./lib.mjs";

export const GO_SUPERVISOR = join(ROOT, "interop/bin/opampsupervisor-go");
export const GO_COLLECTOR = join(ROOT, "interop/bin/otelcol-gopeer");
export const OPAMP_SERVER = join(ROOT, "interop/bin/opamp-server");

/** Why the side-by-side benchmark cannot run here, or undefined. */
export function missingBinaries() {
  const missing = [GO_SUPERVISOR, GO_COLLECTOR, OPAMP_SERVER].filter((p) => !existsSync(p));
  if (missing.length === 0) return undefined;
  return `missing ${missing.map((p) => p.slice(ROOT.length + 1)).join(", ")}: run \`bash interop/build-gopeer.sh\` (and \`npm run interop:build\` for opamp-server)`;
}

/**
 * The supervisor.yaml of one side. `tuned`: ours probes every 50 ms, the Go supervisor's
 * config_apply_timeout is short. Everything else stays at each side's defaults, except what
 * both need to run side by side on one machine (ports, storage, pinned uid).
 */
function supervisorYaml(side, o) {
  const caps = `capabilities:
  accepts_remote_config: true
  reports_remote_config: true
  accepts_restart_command: true
`;
  const description = `  description:
    non_identifying_attributes:
      bench.side: ${side}
`;
  if (side === "ours") {
    return `server:
  endpoint: ${o.endpoint}
${caps}agent:
  executable: ${o.executable}
  instance_id: ${o.uid}
  config_files: [${o.collectorConfig}, $REMOTE_CONFIG]
${description}  health:
    endpoint: 127.0.0.1:${o.healthPort}
${o.tuned ? `    interval: ${o.tunedInterval}\n` : ""}storage:
  directory: ${o.stateDir}
telemetry:
  logs:
    level: info
`;
  }
  return `server:
  endpoint: ${o.endpoint}
${caps}agent:
  executable: ${o.executable}
  instance_id: ${o.uid}
  config_files: [${o.collectorConfig}, $OPAMP_EXTENSION_CONFIG, $REMOTE_CONFIG]
${description}${o.tuned ? `  config_apply_timeout: ${o.tunedApplyTimeout}\n` : ""}storage:
  directory: ${o.stateDir}
telemetry:
  logs:
    level: info
`;
}

/**
 * A fresh workspace for one side. `countLaunches`: the executable is a shell wrapper that logs
 * each start (its arguments) and then execs the collector, to count collector launches.
 */
export async function makeSide(
  side,
  { endpoint, tuned = false, countLaunches = false, tunedInterval = "50ms", tunedApplyTimeout = "100ms" },
) {
  const dir = await mkdtemp(join(tmpdir(), `sbs-${side}-`));
  const stateDir = join(dir, "state");
  await mkdir(stateDir, { recursive: true });
  const otlpPort = await freePort();
  const collectorConfig = join(dir, "collector.yaml");
  await writeFile(collectorConfig, collectorYaml(otlpPort));
  let executable = GO_COLLECTOR;
  const launchLog = join(dir, "launches.log");
  if (countLaunches) {
    executable = join(dir, "otelcol-counting");
    await writeFile(executable, `#!/bin/sh\necho "$*" >> '${launchLog}'\nexec '${GO_COLLECTOR}' "$@"\n`);
    await chmod(executable, 0o755);
  }
  const uid = randomUUID();
  const healthPort = await freePort();
  const configPath = join(dir, "supervisor.yaml");
  await writeFile(
    configPath,
    supervisorYaml(side, {
      endpoint,
      executable,
      uid,
      collectorConfig,
      healthPort,
      stateDir,
      tuned,
      tunedInterval,
      tunedApplyTimeout,
    }),
  );
  return { side, dir, stateDir, configPath, uid, otlpPort, launchLog };
}

// Our side's entry point and Node flags, to measure a variant (another build:
// BENCH_SBS_OURS_CLI=path/to/cli.js; V8 flags: BENCH_SBS_NODE_FLAGS="--max-semi-space-size=1").
const OURS_CLI = process.env.BENCH_SBS_OURS_CLI ? join(ROOT, process.env.BENCH_SBS_OURS_CLI) : CLI;
const NODE_FLAGS = (process.env.BENCH_SBS_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean);
export const OURS_VARIANT = { cli: OURS_CLI.slice(ROOT.length + 1), nodeFlags: NODE_FLAGS.join(" ") };

/** Starts the side's supervisor; resolves at once with the child and the wall time of the spawn. */
export function startSide(ws) {
  const [cmd, args] =
    ws.side === "ours"
      ? [process.execPath, [...NODE_FLAGS, OURS_CLI, "--config", ws.configPath]]
      : [GO_SUPERVISOR, ["--config", ws.configPath]];
  const t0 = wallNow();
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: ws.dir });
  // The last output of the supervisor (both log to stdout), for a scenario that times out.
  const output = [];
  const keep = (c) => {
    output.push(c);
    if (output.length > 50) output.shift();
  };
  child.stdout.setEncoding("utf8").on("data", keep);
  child.stderr.setEncoding("utf8").on("data", keep);
  const exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  return { child, t0, output, exited };
}

/** SIGTERM, then SIGKILL after 10 s; also kills a collector left behind. */
export async function stopSide(run) {
  const collectors = await childrenOf(run.child.pid);
  if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGTERM");
  const done = await Promise.race([run.exited, sleep(10_000).then(() => undefined)]);
  if (!done) {
    run.child.kill("SIGKILL");
    await run.exited;
  }
  for (const pid of collectors) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone, as it should be
    }
  }
}

export async function removeSide(ws) {
  await rm(ws.dir, { recursive: true, force: true }).catch(() => undefined);
}

/** Collector launches the counting wrapper logged (one line of arguments each). */
export async function launches(ws) {
  try {
    return (await readFile(ws.launchLog, "utf8")).split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

/** Pids whose parent is `ppid` (from /proc; the supervisor's collector and one-shot runs). */
export async function childrenOf(ppid) {
  const out = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(rest[1]) === ppid) out.push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Wall clock in ms with sub-ms resolution (comparable with the server's timestamps). */
export const wallNow = () => performance.timeOrigin + performance.now();

/** RFC 3339 with up to nanoseconds (the Go server's clock) as ms since the epoch, sub-ms kept. */
export function serverTime(rfc3339) {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(String(rfc3339));
  if (!m) return NaN;
  return Date.parse(`${m[1]}${m[3]}`) + Number(`0.${m[2] ?? "0"}`) * 1000;
}
