/**
 * Runs the built CLI (dist/cli.js) as users do, with the stub collector, against the
 * in-process OpAMP test server. Intervals are set small through supervisor.yaml.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { eventually } from "../support/eventually.js";

/** The repository root, also when this file runs compiled from another folder (benchmarks). */
export const ROOT = findRoot(import.meta.dirname);
export const CLI = join(ROOT, "dist/cli.js");
export const STUB = join(ROOT, "fixtures/otelcol-stub/otelcol-stub.mjs");

function findRoot(start: string): string {
  for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, "fixtures/otelcol-stub")) && existsSync(join(dir, "package.json"))) return dir;
  }
  throw new Error(`no repository root above ${start}`);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export interface Workspace {
  dir: string;
  stateDir: string;
  healthPort: number;
  configPath: string;
  collectorConfigPath: string;
}

export interface WorkspaceOptions {
  endpoint: string;
  hup?: boolean;
  /** Extra YAML appended under `agent:` (indented by the caller with two spaces). */
  agentExtra?: string;
  /** Extra top-level YAML. */
  extra?: string;
  /** Extra YAML under `server:` (indented by the caller with two spaces). */
  serverExtra?: string;
  /** More capabilities switched on, by their supervisor.yaml names. */
  capabilities?: readonly string[];
  /** The local collector config; default: one traces pipeline. */
  collectorYaml?: string;
  executable?: string;
  /** Health window overrides (defaults: 50ms interval, 5 passes in a window of 10). */
  health?: { interval?: string; window?: number; passesRequired?: number };
}

export const BASE_COLLECTOR = `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  debug: {}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
`;

export async function makeWorkspace(options: WorkspaceOptions): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), "opamp-e2e-"));
  const healthPort = await freePort();
  const collectorConfigPath = join(dir, "collector.yaml");
  await writeFile(collectorConfigPath, options.collectorYaml ?? BASE_COLLECTOR);
  const configPath = join(dir, "supervisor.yaml");
  await writeFile(configPath, supervisorYaml(dir, healthPort, collectorConfigPath, options));
  return { dir, stateDir: join(dir, "state"), healthPort, configPath, collectorConfigPath };
}

function supervisorYaml(dir: string, healthPort: number, collectorConfig: string, o: WorkspaceOptions): string {
  return `server:
  endpoint: ${o.endpoint}
${o.serverExtra ?? ""}capabilities:
${(o.capabilities ?? []).map((name) => `  ${name}: true\n`).join("")}  accepts_remote_config: true
  reports_remote_config: true
  accepts_restart_command: true
agent:
  executable: ${o.executable ?? STUB}
  config_files: [${collectorConfig}]
  use_hup_config_reload: ${o.hup ?? false}
  passthrough_logs: true
  stop_timeout: 2s
  description:
    identifying_attributes:
      service.namespace: e2e
    non_identifying_attributes:
      deployment.ring: canary
  health:
    endpoint: 127.0.0.1:${healthPort}
    interval: ${o.health?.interval ?? "50ms"}
    steady_interval: ${o.health?.interval ?? "50ms"}
    window: ${o.health?.window ?? 10}
    passes_required: ${o.health?.passesRequired ?? 5}
    request_timeout: 300ms
  restart:
    initial_delay: 100ms
    max_delay: 2s
    multiplier: 2
    jitter: 0
${o.agentExtra ?? ""}
storage:
  directory: ${join(dir, "state")}
telemetry:
  logs:
    level: debug
${o.extra ?? ""}`;
}

export interface LogLine {
  /** "debug", "info", "warn", "error" (the supervisor's labels). */
  level: string;
  msg: string;
  [key: string]: unknown;
}

export class RunningSupervisor {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    let buffer = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.logs.push({ level: "info", msg: line });
        }
      }
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => this.stderr.push(chunk));
    this.exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  }

  log(match: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    return eventually(() => this.logs.find(match), timeoutMs, "a matching supervisor log line");
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    return this.exited;
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }
}

export function startSupervisor(ws: Workspace, env: Record<string, string> = {}): RunningSupervisor {
  const child = spawn(process.execPath, [CLI, "--config", ws.configPath], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new RunningSupervisor(child);
}

export interface StubState {
  pid: number;
  version: string;
  reloads: number;
  configHash: string;
  config: Record<string, unknown>;
  healthy: boolean;
}

/** What the stub collector says it runs, or undefined when nothing answers. */
export async function stubState(ws: Workspace): Promise<StubState | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${ws.healthPort}/stub/state`, { signal: AbortSignal.timeout(500) });
    return res.ok ? ((await res.json()) as StubState) : undefined;
  } catch {
    return undefined;
  }
}

export async function waitForStub(
  ws: Workspace,
  match: (s: StubState) => boolean = (s) => s.healthy,
  timeoutMs = 10_000,
): Promise<StubState> {
  let last: StubState | undefined;
  return eventually(
    async () => {
      last = await stubState(ws);
      return last && match(last) ? last : undefined;
    },
    { timeoutMs, everyMs: 25, what: "the stub collector to match" },
  ).catch((err: unknown) => {
    throw new Error(`stub never matched; last state: ${JSON.stringify(last)}`, { cause: err });
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function auditLines(ws: Workspace): Promise<Array<Record<string, unknown>>> {
  try {
    const text = await readFile(join(ws.stateDir, "audit.log"), "utf8");
    return text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
}
