/**
 * The two real peers of the interop suite, built by `npm run interop:build` into interop/bin/:
 * a collector from the published collector modules and an OpAMP server on opamp-go's server
 * package. This file starts them and talks to the server's loopback control API.
 */
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { ROOT, freePort, makeWorkspace } from "../e2e/harness.js";
import type { RunningSupervisor, Workspace, WorkspaceOptions } from "../e2e/harness.js";
import { eventually } from "../support/eventually.js";

export const INTEROP_BIN = join(ROOT, "interop/bin");
export const COLLECTOR = join(INTEROP_BIN, "otelcol-interop");
/** The same collector built to report another version (build.sh's NEXT_VERSION): the upgrade target. */
export const COLLECTOR_NEXT = join(INTEROP_BIN, "otelcol-interop-next");
export const OPAMP_SERVER = join(INTEROP_BIN, "opamp-server");

/** Why the suite cannot run here, or undefined when both peers are built. */
export function missingPeers(): string | undefined {
  const missing = [COLLECTOR, OPAMP_SERVER].filter((p) => !existsSync(p));
  if (missing.length === 0) return undefined;
  return `interop peers not built (missing ${missing.map((p) => p.slice(ROOT.length + 1)).join(", ")}): run \`npm run interop:build\` (needs Go) first`;
}

export const SKIP_REASON = missingPeers();
if (SKIP_REASON) console.warn(`\n[interop] SKIPPED: ${SKIP_REASON}\n`);

/** `<name> version <v>` as the real collector prints it. */
export function collectorVersion(binary = COLLECTOR): { name: string; version: string } {
  const out = execFileSync(binary, ["--version"], { encoding: "utf8" }).trim();
  const m = /^(\S+) version v?(\S+)$/.exec(out);
  if (!m) throw new Error(`unexpected --version output: ${out}`);
  return { name: m[1]!, version: m[2]! };
}

/**
 * The local collector config for the real collector: one traces pipeline whose OTLP/HTTP
 * receiver listens on `otlpPort`. Internal metrics are off: by default the collector serves
 * them on localhost:8888, which parallel collectors (and other people's) would fight over.
 */
export function collectorYaml(otlpPort: number): string {
  return `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlpPort}
exporters:
  debug:
    verbosity: detailed
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
`;
}

/**
 * A remote file adding a marked debug exporter to the traces pipeline (plus extra YAML). Its
 * basic verbosity prints one line per batch naming `debug/<marker>`.
 */
export function markedRemote(marker: string, extra = ""): string {
  return `exporters:
  debug/${marker}:
    verbosity: basic
service:
  pipelines:
    traces:
      exporters: [debug, debug/${marker}]
${extra}`;
}

export interface RemoteConfigStatusView {
  status: "UNSET" | "APPLIED" | "APPLYING" | "FAILED";
  last_remote_config_hash: string;
  error_message: string;
}

export interface AgentView {
  instance_uid: string;
  connected: boolean;
  transport: "websocket" | "http" | "";
  connections: number;
  messages: number;
  sequence_num: number;
  capabilities: number;
  disconnected: boolean;
  disconnect_count: number;
  attributes: Record<string, string>;
  description?: Record<string, unknown>;
  health?: { healthy?: boolean; status?: string; last_error?: string; start_time_unix_nano?: string; component_health_map?: Record<string, unknown> };
  effective_config: Record<string, string>;
  remote_config_status?: RemoteConfigStatusView;
  desired_config_hash: string;
  pending_messages: number;
  heartbeat_offered_seconds: number;
  /** all_packages_hash (hex) of the last PackagesAvailable offered. */
  packages_offered_hash?: string;
  package_statuses?: Record<string, unknown>;
  /** Every package entry of every PackageStatuses the agent reported, in order. */
  package_history: PackageEvent[];
  /** The client certificate of the connection the agent's last message came on (TLS mode). */
  client_cert?: CertView;
  /** Every distinct client certificate the agent connected with, in order of first sight. */
  client_certs: Array<CertView & { first_seen: string; first_seq: number }>;
  csrs: CsrRecord[];
  certificate_offers: Array<{ time: string; source: "control" | "csr"; hash: string; certificate: CertView; delivery?: string }>;
  connection_settings_status?: { last_connection_settings_hash: string; status: "UNSET" | "APPLIED" | "APPLYING" | "FAILED"; error_message: string };
  /** The last full AvailableComponents (protojson, proto names; the server asks for it when it hears an unknown hash). */
  available_components?: { hash?: string; components?: Record<string, { sub_component_map?: Record<string, { metadata?: unknown[] }> }> };
  /** The hash (hex) in the agent's last AvailableComponents. */
  available_components_hash?: string;
}

export type PackageStatusName = "INSTALLED" | "INSTALL_PENDING" | "INSTALLING" | "INSTALL_FAILED" | "DOWNLOADING";

export interface PackageEvent {
  time: string;
  seq: number;
  name: string;
  status: PackageStatusName;
  agent_has_version: string;
  agent_has_hash: string;
  server_offered_version: string;
  server_offered_hash: string;
  error_message?: string;
  download_percent?: number;
  download_bytes_per_second?: number;
  server_provided_all_packages_hash: string;
}

export interface CertView {
  subject: string;
  issuer: string;
  serial: string;
  /** Hex SHA-256 of the DER. */
  sha256: string;
  not_after: string;
  uris?: string[];
}

export interface CsrRecord {
  time: string;
  subject?: string;
  uris?: string[];
  key_type?: string;
  result: "signed" | "rejected";
  error?: string;
  offer_hash?: string;
  issued?: CertView;
}

export interface PackageOffer {
  /** Absolute path of the file to offer (read by the server), or its bytes. */
  path?: string;
  content?: Uint8Array;
  version: string;
  /** The 64 raw Ed25519 signature bytes. */
  signature?: Uint8Array;
  /** Package name (default "otelcol"). */
  name?: string;
  /** Overrides the content_hash (default: the file's SHA-256). */
  contentHash?: Uint8Array;
}

export interface PackageOfferResult {
  hash: string;
  all_packages_hash: string;
  content_hash: string;
  sha256: string;
  download_url: string;
  size: number;
  delivery: string;
  time: string;
}

export interface Download {
  time: string;
  file: string;
  method: string;
  range?: string;
  status: number;
  bytes: number;
  duration_ms: number;
  client_cert?: CertView;
}

/** Files for the server's TLS mode (PEM paths). */
export interface ServerTlsFiles {
  cert: string;
  key: string;
  /** Require client certificates chaining to this bundle (mTLS). */
  clientCa?: string;
  /** The key of a CA in clientCa: the server signs CSRs and issues offered certificates. */
  clientCaKey?: string;
  /** Validity of the certificates the server issues, as a Go duration ("2160h"). */
  issuedValidity?: string;
}

/** `X509Certificate.fingerprint256` in the server's notation (lower-case hex, no colons). */
export function sha256Hex(fingerprint256: string): string {
  return fingerprint256.replace(/:/g, "").toLowerCase();
}

export interface ReceivedMessage {
  seq: number;
  time: string;
  instance_uid: string;
  transport: "websocket" | "http";
  /** The client certificate of the connection it came on (TLS mode with client certificates). */
  client_cert?: CertView;
  message: Record<string, unknown> & {
    sequence_num?: string;
    capabilities?: string;
    agent_disconnect?: Record<string, never>;
    remote_config_status?: { status?: string; last_remote_config_hash?: string; error_message?: string };
    health?: { healthy?: boolean };
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 25): Promise<T> {
  return eventually(check, { what, timeoutMs, everyMs, retryErrors: true });
}

/** The opamp-go based server as a child process, and its control API. */
export class OpampServer {
  private constructor(
    readonly child: ChildProcess,
    readonly opampAddr: string,
    readonly wsUrl: string,
    readonly httpUrl: string,
    readonly control: string,
    readonly stderr: string[],
  ) {}

  static async start(options: { listen?: string; heartbeatSeconds?: number; tls?: ServerTlsFiles } = {}): Promise<OpampServer> {
    const args = ["--listen", options.listen ?? "127.0.0.1:0", "--control", "127.0.0.1:0"];
    if (options.heartbeatSeconds) args.push("--heartbeat-seconds", String(options.heartbeatSeconds));
    const tls = options.tls;
    if (tls) {
      args.push("--tls-cert", tls.cert, "--tls-key", tls.key);
      if (tls.clientCa) args.push("--client-ca", tls.clientCa);
      if (tls.clientCaKey) args.push("--client-ca-key", tls.clientCaKey);
      if (tls.issuedValidity) args.push("--issued-cert-validity", tls.issuedValidity);
    }
    const child = spawn(OPAMP_SERVER, args, { stdio: ["ignore", "pipe", "pipe"] });
    const stderr: string[] = [];
    child.stderr.setEncoding("utf8").on("data", (c: string) => stderr.push(c));
    const ready = await new Promise<Record<string, string>>((resolve, reject) => {
      let buf = "";
      const timer = setTimeout(() => reject(new Error(`opamp-server did not start: ${stderr.join("")}`)), 10_000);
      child.stdout.setEncoding("utf8").on("data", (c: string) => {
        buf += c;
        const nl = buf.indexOf("\n");
        if (nl >= 0) {
          clearTimeout(timer);
          resolve(JSON.parse(buf.slice(0, nl)) as Record<string, string>);
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`opamp-server exited with ${code}: ${stderr.join("")}`));
      });
    });
    return new OpampServer(child, ready["opamp_addr"]!, ready["opamp_ws"]!, ready["opamp_http"]!, ready["control"]!, stderr);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await Promise.race([exited, sleep(5_000)]);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  async #call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const res = await fetch(this.control + path, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}),
      signal: AbortSignal.timeout(5_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }

  agents(): Promise<AgentView[]> {
    return this.#call("GET", "/agents");
  }

  agent(uid: string): Promise<AgentView> {
    return this.#call("GET", `/agents/${uid}`);
  }

  /** Pushes a remote config; resolves with the hash (sha256 hex) the server computed. */
  async push(uid: string, config: Record<string, string>): Promise<string> {
    return (await this.pushTimed(uid, config)).hash;
  }

  /** Like push, with the server's clock reading when it sent (or queued) the config. */
  async pushTimed(uid: string, config: Record<string, string>): Promise<{ hash: string; time: string; delivery: string }> {
    return this.#call("POST", `/agents/${uid}/config`, { config, content_type: "text/yaml" });
  }

  restart(uid: string): Promise<unknown> {
    return this.#call("POST", `/agents/${uid}/restart`);
  }

  heartbeat(uid: string, seconds: number): Promise<unknown> {
    return this.#call("POST", `/agents/${uid}/heartbeat`, { seconds });
  }

  /** Offers a top-level package (PackagesAvailable) served by the server's OpAMP listener. */
  offerPackage(uid: string, offer: PackageOffer): Promise<PackageOfferResult> {
    const b64 = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString("base64"));
    return this.#call("POST", `/agents/${uid}/package`, {
      name: offer.name,
      version: offer.version,
      path: offer.path,
      content: b64(offer.content),
      signature: b64(offer.signature),
      content_hash: b64(offer.contentHash),
    });
  }

  /** Every request for a package file the server answered. */
  downloads(): Promise<Download[]> {
    return this.#call("GET", "/downloads");
  }

  /** Offers a client certificate (new key, issued by the server's client CA) with its key and ca_cert. */
  offerCertificate(uid: string, options: { cn?: string; validitySeconds?: number } = {}): Promise<{ hash: string; certificate: CertView; delivery: string; time: string }> {
    return this.#call("POST", `/agents/${uid}/certificate`, { cn: options.cn, validity_seconds: options.validitySeconds });
  }

  /** Offers own-telemetry destinations (ConnectionSettingsOffers own_metrics/own_logs/own_traces); resolves with the offer hash (hex). */
  async offerOwnTelemetry(
    uid: string,
    offer: Partial<Record<"metrics" | "logs" | "traces", { endpoint: string; headers?: Record<string, string> }>>,
  ): Promise<string> {
    return (await this.#call<{ hash: string }>("POST", `/agents/${uid}/own-telemetry`, offer)).hash;
  }

  messages(uid?: string, after = 0): Promise<ReceivedMessage[]> {
    const q = new URLSearchParams();
    if (uid) q.set("uid", uid);
    if (after) q.set("after", String(after));
    return this.#call("GET", `/messages?${q.toString()}`);
  }

  /** The sequence number of the last message received so far (0 when none). */
  async lastSeq(): Promise<number> {
    return (await this.messages()).at(-1)?.seq ?? 0;
  }

  /** Waits for the first agent matching `match`. */
  waitAgent(match: (a: AgentView) => boolean, timeoutMs = 15_000, what = "a matching agent"): Promise<AgentView> {
    return until(what, async () => (await this.agents()).find(match), timeoutMs);
  }

  /** Waits until the agent reports `status` for `hash`. */
  waitStatus(uid: string, hash: string, status: RemoteConfigStatusView["status"], timeoutMs = 20_000): Promise<AgentView> {
    return until(
      `remote config status ${status} for ${hash.slice(0, 12)}`,
      async () => {
        const a = await this.agent(uid);
        const s = a.remote_config_status;
        return s && s.last_remote_config_hash === hash && s.status === status ? a : undefined;
      },
      timeoutMs,
      10,
    );
  }
}

/** The collector's pid, from the supervisor's pidfile. */
export async function collectorPid(ws: Workspace): Promise<number | undefined> {
  try {
    const rec = JSON.parse(await readFile(join(ws.stateDir, "collector.pid"), "utf8")) as { pid?: number };
    return rec.pid;
  } catch {
    return undefined;
  }
}

export interface HealthResponse {
  status: number;
  /** `upSince` is health_check's, or healthcheckv2's `start_time` (both change with every service). */
  body: { status?: string; upSince?: string; uptime?: string };
}

/**
 * One GET of the collector's injected health endpoint; undefined when nothing answers. The
 * interop build has healthcheckv2, so that is what the supervisor injects (status path "/").
 */
export async function health(ws: Workspace): Promise<HealthResponse | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${ws.healthPort}/`, { signal: AbortSignal.timeout(500) });
    const body = (await res.json()) as HealthResponse["body"] & { start_time?: string };
    const upSince = body.upSince ?? body.start_time;
    return { status: res.status, body: { ...body, ...(upSince !== undefined ? { upSince } : {}) } };
  } catch {
    return undefined;
  }
}

export function waitHealthy(ws: Workspace, timeoutMs = 15_000): Promise<HealthResponse> {
  return until("the collector's health_check to answer 200", async () => {
    const h = await health(ws);
    return h?.status === 200 ? h : undefined;
  }, timeoutMs);
}

/** Sends one OTLP/HTTP JSON trace with a span called `spanName`. */
export async function sendTrace(otlpPort: number, spanName: string): Promise<number> {
  const now = BigInt(Date.now()) * 1_000_000n;
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: "interop-test" } }] },
        scopeSpans: [
          {
            scope: { name: "interop" },
            spans: [
              {
                traceId: "5b8efff798038103d269b633813fc60c",
                spanId: "eee19b7ec3c1b174",
                name: spanName,
                kind: 1,
                startTimeUnixNano: String(now),
                endTimeUnixNano: String(now + 1_000_000n),
              },
            ],
          },
        ],
      },
    ],
  };
  const res = await fetch(`http://127.0.0.1:${otlpPort}/v1/traces`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  await res.text();
  return res.status;
}

/** Collector output lines passed through the supervisor's log (agent.passthrough_logs). */
export function collectorLines(sup: RunningSupervisor): string[] {
  return sup.logs.filter((l) => l["component"] === "collector").map((l) => l.msg);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export { freePort };

/** SIGTERM (the supervisor stops its collector and says goodbye), SIGKILL after 5 s. */
export async function stopSupervisor(sup: RunningSupervisor): Promise<void> {
  await Promise.race([sup.stop(), sleep(5_000)]);
  await sup.kill();
}

const workspaces: string[] = [];

/** makeWorkspace with the real collector as the executable; removed by removeWorkspaces(). */
export async function workspace(options: WorkspaceOptions): Promise<Workspace> {
  const ws = await makeWorkspace({ executable: COLLECTOR, ...options });
  workspaces.push(ws.dir);
  return ws;
}

/** Deletes the temp dirs of the workspaces made so far (call once their processes are gone). */
export async function removeWorkspaces(): Promise<void> {
  for (const dir of workspaces.splice(0)) await rm(dir, { recursive: true, force: true });
}
