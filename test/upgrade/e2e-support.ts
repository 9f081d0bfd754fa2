/**
 * Helpers for the upgrade e2e tests: a workspace whose collector is a private copy of the
 * stub (so it can be replaced), stub "builds" of other versions and failure modes, signed
 * package offers, and a watcher process that stats the executable path in a tight loop.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PackageStatusEnum, PackageType, ServerCapabilities } from "../../src/gen/opamp_pb.js";
import type { PackageStatus } from "../../src/gen/opamp_pb.js";
import { encodePublicKey } from "../../src/upgrade/keys.js";
import type { KeyPair } from "../../src/upgrade/keys.js";
import { BASE_COLLECTOR, ROOT, STUB, freePort } from "../e2e/harness.js";
import type { Workspace } from "../e2e/harness.js";
import type { OpampTestServer, Received } from "../support/opamp-test-server.js";
import { signPackage } from "./fixtures.js";

export const S = PackageStatusEnum;
export const STATUS_NAMES: Record<number, string> = {
  [S.PackageStatusEnum_Installed]: "INSTALLED",
  [S.PackageStatusEnum_InstallPending]: "INSTALL_PENDING",
  [S.PackageStatusEnum_Installing]: "INSTALLING",
  [S.PackageStatusEnum_InstallFailed]: "INSTALL_FAILED",
  [S.PackageStatusEnum_Downloading]: "DOWNLOADING",
};

export type StubMode = "ok" | "bad-version" | "unhealthy";

/** The stub's source as another "build": a different version, a failure mode, optional padding. */
export async function stubBuild(version: string, mode: StubMode = "ok", padBytes = 0): Promise<Buffer> {
  let text = await readFile(STUB, "utf8");
  text = text.replace('const STUB_VERSION = "0.1.0";', `const STUB_VERSION = ${JSON.stringify(version)};`);
  if (mode === "bad-version") {
    // Starts, but cannot report a version (e.g. a build for another CPU).
    text = text.replace(
      "async function main() {",
      'async function main() {\n  if (process.argv.includes("--version")) { process.stderr.write("Illegal instruction\\n"); process.exit(132); }',
    );
  }
  if (mode === "unhealthy")
    text = text.replace("const DEFAULT_HEALTHY_AFTER_MS = 20;", "const DEFAULT_HEALTHY_AFTER_MS = 3_600_000;");
  if (padBytes > 0) text += `\n/*${"x".repeat(padBytes)}*/\n`;
  return Buffer.from(text);
}

export interface UpgradeWorkspace extends Workspace {
  exe: string;
}

export async function makeUpgradeWorkspace(options: {
  endpoint: string;
  key: KeyPair;
  packageYaml?: string;
}): Promise<UpgradeWorkspace> {
  const dir = await mkdtemp(join(tmpdir(), "opamp-upgrade-"));
  const healthPort = await freePort();
  await mkdir(join(dir, "bin"));
  const exe = join(dir, "bin", "otelcol-stub.mjs");
  await writeFile(exe, await stubBuild("0.1.0"), { mode: 0o755 });
  const collectorConfigPath = join(dir, "collector.yaml");
  await writeFile(collectorConfigPath, BASE_COLLECTOR);
  const configPath = join(dir, "supervisor.yaml");
  await writeFile(
    configPath,
    `server:
  endpoint: ${options.endpoint}
capabilities:
  accepts_packages: true
  reports_package_statuses: true
agent:
  executable: ${exe}
  config_files: [${collectorConfigPath}]
  env:
    OTELCOL_STUB_MODULES_DIR: ${ROOT}
  passthrough_logs: true
  stop_timeout: 2s
  config_apply_timeout: 2s
  health:
    endpoint: 127.0.0.1:${healthPort}
    interval: 100ms
    window: 20
    passes_required: 3
    request_timeout: 300ms
  restart:
    initial_delay: 100ms
    max_delay: 1s
    jitter: 0
  package:
    verifier:
      public_keys: ["${encodePublicKey(options.key.publicKey)}"]
    download_idle_timeout: 2s
    progress_interval: 50ms
${(options.packageYaml ?? "").replace(/^/gm, "    ")}
storage:
  directory: ${join(dir, "state")}
telemetry:
  logs:
    level: debug
`,
  );
  return { dir, stateDir: join(dir, "state"), healthPort, configPath, collectorConfigPath, exe };
}

export function enablePackages(server: OpampTestServer): void {
  server.capabilities |= BigInt(
    ServerCapabilities.ServerCapabilities_OffersPackages | ServerCapabilities.ServerCapabilities_AcceptsPackagesStatus,
  );
}

export interface Offer {
  name?: string;
  version: string;
  hash: Uint8Array;
  url: string;
  contentHash: Uint8Array;
  signature: Uint8Array;
  headers?: Record<string, string>;
}

export function signedOffer(body: Buffer, key: KeyPair, url: string, version: string, hash: Uint8Array): Offer {
  const signed = signPackage(body, key);
  return { version, hash, url, contentHash: signed.contentHash, signature: signed.signature };
}

/** Pushes a PackagesAvailable with one top-level package; returns the index to wait from. */
export function pushOffer(server: OpampTestServer, offer: Offer, allPackagesHash: Uint8Array): number {
  const from = server.received.length;
  server.push({
    packagesAvailable: {
      allPackagesHash,
      packages: {
        [offer.name ?? "otelcol"]: {
          type: PackageType.PackageType_TopLevel,
          version: offer.version,
          hash: offer.hash,
          file: {
            downloadUrl: offer.url,
            contentHash: offer.contentHash,
            signature: offer.signature,
            headers: { headers: Object.entries(offer.headers ?? {}).map(([key, value]) => ({ key, value })) },
          },
        },
      },
    },
  });
  return from;
}

export function statusOf(r: Received, name = "otelcol"): PackageStatus | undefined {
  return r.msg.packageStatuses?.packages[name];
}

export function waitForStatus(
  server: OpampTestServer,
  match: (s: PackageStatus) => boolean,
  options: { from?: number; timeoutMs?: number; name?: string } = {},
): Promise<Received> {
  return server.waitFor(
    (r) => {
      const s = statusOf(r, options.name);
      return s !== undefined && match(s);
    },
    { from: options.from ?? 0, timeoutMs: options.timeoutMs ?? 15_000 },
  );
}

export const isStatus =
  (status: number, hash?: Uint8Array) =>
  (s: PackageStatus): boolean =>
    s.status === status && (hash === undefined || Buffer.from(s.serverOfferedHash).equals(Buffer.from(hash)));

/** The distinct consecutive statuses reported for `name` from message `from` on. */
export function statusSequence(server: OpampTestServer, from: number, name = "otelcol"): string[] {
  const out: string[] = [];
  for (const r of server.received.slice(from)) {
    const s = statusOf(r, name);
    if (!s) continue;
    const label = STATUS_NAMES[s.status] ?? String(s.status);
    if (out.at(-1) !== label) out.push(label);
  }
  return out;
}

export interface PathWatch {
  stop(): Promise<{ checks: number; missing: number; inodes: string[] }>;
}

/** A separate process that stats `path` as fast as it can until stopped. */
export async function watchPath(path: string, dir: string): Promise<PathWatch> {
  const stopFile = join(dir, `.watch-stop-${Date.now()}`);
  const script = `
const fs = require("node:fs");
const [path, stop] = process.argv.slice(1);
let checks = 0, missing = 0;
const inodes = new Set();
for (;;) {
  const st = fs.statSync(path, { throwIfNoEntry: false });
  checks++;
  if (!st || !st.isFile()) missing++; else inodes.add(String(st.ino));
  if ((checks & 511) === 0 && fs.existsSync(stop)) break;
}
process.stdout.write(JSON.stringify({ checks, missing, inodes: [...inodes] }));
`;
  const child = spawn(process.execPath, ["-e", script, path, stopFile], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    async stop() {
      await writeFile(stopFile, "");
      await exited;
      return JSON.parse(out) as { checks: number; missing: number; inodes: string[] };
    },
  };
}
