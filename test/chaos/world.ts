/**
 * The chaos test's world: one workspace (a private copy of the stub, a supervisor.yaml with
 * remote configs, restart commands and signed packages on, small intervals), the in-process
 * OpAMP test server on a fixed port (so it can be "restarted"), a package file server, and a
 * state directory on a small tmpfs when mount works (for the full-disk event).
 */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ServerCapabilities } from "../../src/gen/opamp_pb.js";
import { encodePublicKey, generateKeyPair } from "../../src/upgrade/keys.js";
import type { KeyPair } from "../../src/upgrade/keys.js";
import { BASE_COLLECTOR, ROOT, freePort, startSupervisor } from "../e2e/harness.js";
import type { RunningSupervisor, Workspace } from "../e2e/harness.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import { PackageFileServer } from "../support/package-file-server.js";
import { stubBuild } from "../upgrade/e2e-support.js";

export interface ChaosWorld {
  ws: Workspace & { exe: string };
  server: OpampTestServer;
  serverPort: number;
  files: PackageFileServer;
  key: KeyPair;
  sup: RunningSupervisor;
  /** Every supervisor started, for cleanup. */
  sups: RunningSupervisor[];
  /** Whether the state directory is a tmpfs the test can fill. */
  tmpfs: boolean;
  /** Why not, when it is not. */
  tmpfsRefused: string | undefined;
  close(): Promise<void>;
}

const TMPFS_BYTES = 4 * 1024 * 1024;

function supervisorYaml(o: {
  endpoint: string;
  exe: string;
  collector: string;
  healthPort: number;
  stateDir: string;
  key: KeyPair;
}): string {
  return `server:
  endpoint: ${o.endpoint}
capabilities:
  accepts_remote_config: true
  reports_remote_config: true
  accepts_restart_command: true
  accepts_packages: true
  reports_package_statuses: true
agent:
  executable: ${o.exe}
  config_files: [${o.collector}]
  env:
    OTELCOL_STUB_MODULES_DIR: ${ROOT}
  passthrough_logs: true
  stop_timeout: 2s
  config_apply_timeout: 3s
  health:
    endpoint: 127.0.0.1:${o.healthPort}
    interval: 50ms
    window: 10
    passes_required: 3
    request_timeout: 300ms
  restart:
    initial_delay: 100ms
    max_delay: 1s
    multiplier: 2
    jitter: 0
  package:
    verifier:
      public_keys: ["${encodePublicKey(o.key.publicKey)}"]
    download_idle_timeout: 2s
    progress_interval: 50ms
storage:
  directory: ${o.stateDir}
  retry_interval: 200ms
telemetry:
  logs:
    level: debug
`;
}

/** Mounts a small tmpfs on `dir` (root only). Returns why not, or undefined when mounted. */
function mountTmpfs(dir: string): string | undefined {
  if (process.getuid?.() !== 0) return "not root";
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_BYTES},mode=0700`, "tmpfs", dir], { stdio: "pipe" });
    return undefined;
  } catch (err) {
    return `mount refused: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
}

export async function makeWorld(): Promise<ChaosWorld> {
  const dir = await mkdtemp(join(tmpdir(), "opamp-chaos-"));
  const stateDir = join(dir, "state");
  await mkdir(stateDir, { mode: 0o700 });
  const tmpfsRefused = mountTmpfs(stateDir);
  await mkdir(join(dir, "bin"));
  const exe = join(dir, "bin", "otelcol-stub.mjs");
  await writeFile(exe, await stubBuild("0.1.0"), { mode: 0o755 });
  const collectorConfigPath = join(dir, "collector.yaml");
  await writeFile(collectorConfigPath, BASE_COLLECTOR);
  const key = generateKeyPair();
  const server = await OpampTestServer.start();
  server.capabilities |= BigInt(
    ServerCapabilities.ServerCapabilities_OffersPackages | ServerCapabilities.ServerCapabilities_AcceptsPackagesStatus,
  );
  const files = await PackageFileServer.start();
  const healthPort = await freePort();
  const configPath = join(dir, "supervisor.yaml");
  await writeFile(
    configPath,
    supervisorYaml({ endpoint: server.wsUrl, exe, collector: collectorConfigPath, healthPort, stateDir, key }),
  );
  const ws = { dir, stateDir, healthPort, configPath, collectorConfigPath, exe };
  const sup = startSupervisor(ws);
  const world: ChaosWorld = {
    ws,
    server,
    serverPort: server.port,
    files,
    key,
    sup,
    sups: [sup],
    tmpfs: tmpfsRefused === undefined,
    tmpfsRefused,
    async close() {
      for (const s of world.sups) await s.kill();
      await world.server.close().catch(() => undefined);
      await files.close();
      for (const p of collectorProcesses(world)) killQuietly(p.pid);
      if (world.tmpfs) {
        try {
          execFileSync("umount", ["-l", stateDir], { stdio: "pipe" });
        } catch {
          // already gone
        }
      }
    },
  };
  return world;
}

export function restartSupervisor(world: ChaosWorld): RunningSupervisor {
  const sup = startSupervisor(world.ws);
  world.sup = sup;
  world.sups.push(sup);
  return sup;
}

export async function restartServer(world: ChaosWorld, downMs: number): Promise<void> {
  const capabilities = world.server.capabilities;
  await world.server.close();
  await new Promise((r) => setTimeout(r, downMs));
  world.server = await OpampTestServer.start({ port: world.serverPort });
  world.server.capabilities = capabilities;
}

export interface CollectorProcess {
  pid: number;
  ppid: number;
  args: string[];
}

/** Collector processes of this workspace in run mode (not the short validate/--version runs). */
export function collectorProcesses(world: ChaosWorld): CollectorProcess[] {
  const out: CollectorProcess[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const args = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").filter(Boolean);
      if (!args.some((a) => a.startsWith(join(world.ws.dir, "bin")))) continue;
      if (args.some((a) => a === "validate" || a === "--version" || a === "components")) continue;
      if (args[0]?.endsWith("setpriv")) continue; // the instant before setpriv execs
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      out.push({ pid: Number(name), ppid, args });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

export function killQuietly(pid: number, signal: NodeJS.Signals = "SIGKILL"): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
