/**
 * What `opamp-supervisor status` shows. While the supervisor runs (and `healthcheck.endpoint`
 * is set) the live part comes from its GET /health; otherwise from the state directory.
 * Certificates and the last audit lines are read from disk either way.
 *
 * Strictly read-only: the store's readers set unusable documents aside (a rename), which a
 * status command must never do, so the documents are parsed here, tolerantly.
 */
import { X509Certificate } from "node:crypto";
import { open, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ResolvedConfig } from "../config/schema.js";
import { DOCUMENT_NAMES, STATE_FILE_NAMES } from "../storage/index.js";
import { parseListenEndpoint } from "../supervisor/health-server.js";
import type { StatusView } from "../supervisor/status-snapshot.js";

export interface CertificateInfo {
  file: string;
  subject: string;
  notAfter: string;
  expired: boolean;
}

export interface OfflineState {
  instanceUid: string | null;
  remoteConfig: { hash: string | null; status: string; error: string | null } | null;
  lastWorkingConfigHash: string | null;
  packages: Array<{ name: string; version: string; status: string; error: string | null }>;
}

export interface StatusReport {
  /** Where the live part came from. */
  source: "endpoint" | "state-dir";
  stateDir: string;
  /** GET /health's body while it runs. */
  live: StatusView | null;
  /** The state directory's view, when the supervisor does not answer. */
  offline: OfflineState | null;
  certificates: CertificateInfo[];
  /** The last audit lines, oldest first, as written (JSON objects). */
  audit: Array<Record<string, unknown>>;
}

export class StateDirMissing extends Error {
  constructor(readonly dir: string) {
    super(`state directory ${dir} does not exist: the supervisor has not run with this config here`);
  }
}

export async function readStatus(
  config: ResolvedConfig,
  options: { auditLines: number; nowMs: number; timeoutMs?: number },
): Promise<StatusReport> {
  const dir = config.storage.directory;
  const live = await fetchLive(config, options.timeoutMs ?? 2_000);
  const exists = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!live && !exists) throw new StateDirMissing(dir);
  return {
    source: live ? "endpoint" : "state-dir",
    stateDir: dir,
    live,
    offline: live ? null : await readOffline(dir),
    certificates: await certificates(config, dir, options.nowMs),
    audit: await auditTail(join(dir, STATE_FILE_NAMES.auditLog), options.auditLines),
  };
}

async function fetchLive(config: ResolvedConfig, timeoutMs: number): Promise<StatusView | null> {
  const listen = parseListenEndpoint(config.healthcheck.endpoint);
  if (!listen) return null;
  // A wildcard listener is reached on loopback.
  const host =
    listen.host === "0.0.0.0" || listen.host === "::"
      ? "127.0.0.1"
      : listen.host.includes(":")
        ? `[${listen.host}]`
        : listen.host;
  try {
    const res = await fetch(`http://${host}:${listen.port}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? ((await res.json()) as StatusView) : null;
  } catch {
    return null; // not running (or not answering): the state directory tells the rest
  }
}

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    const value: unknown = JSON.parse(await readFile(path, "utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null; // absent or unreadable: shown as unknown, never repaired from here
  }
}

const text = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

async function readOffline(dir: string): Promise<OfflineState> {
  const uid = await readJson(join(dir, DOCUMENT_NAMES.instanceUid));
  const status = await readJson(join(dir, DOCUMENT_NAMES.remoteConfigStatus));
  const working = await readJson(join(dir, DOCUMENT_NAMES.lastWorkingRemoteConfig));
  const packages = await readJson(join(dir, "package-statuses.json"));
  const entries =
    packages && typeof packages["packages"] === "object" && packages["packages"] !== null
      ? Object.values(packages["packages"] as Record<string, Record<string, unknown>>)
      : [];
  return {
    instanceUid: text(uid?.["uid"]),
    remoteConfig: status
      ? { hash: text(status["hash"]), status: text(status["status"]) ?? "UNSET", error: text(status["errorMessage"]) }
      : null,
    lastWorkingConfigHash: text(working?.["hash"]),
    packages: entries.map((p) => ({
      name: text(p["name"]) ?? "",
      version: text(p["agentHasVersion"]) ?? "",
      status: text(p["status"]) ?? "",
      error: text(p["errorMessage"]),
    })),
  };
}

/** The operator's client certificate and one the server issued (connection settings), if any. */
async function certificates(config: ResolvedConfig, dir: string, nowMs: number): Promise<CertificateInfo[]> {
  const files: string[] = [];
  if (config.server.tls.certFile) files.push(config.server.tls.certFile);
  const settings = await readJson(join(dir, "connection-settings.json"));
  const offered = settings?.["certificate"] as Record<string, unknown> | null | undefined;
  const offeredFile = text(offered?.["certFile"]);
  if (offeredFile) files.push(join(dir, "tls", offeredFile));
  const out: CertificateInfo[] = [];
  for (const file of files) {
    try {
      const cert = new X509Certificate(await readFile(file));
      const notAfter = new Date(cert.validTo);
      out.push({
        file,
        subject: cert.subject.replace(/\n/g, ", "),
        notAfter: notAfter.toISOString(),
        expired: notAfter.getTime() <= nowMs,
      });
    } catch (err) {
      out.push({ file, subject: `(unreadable: ${(err as Error).message})`, notAfter: "", expired: false });
    }
  }
  return out;
}

/** Enough of the end of audit.log for the last lines; the log itself grows without bound. */
const AUDIT_TAIL_BYTES = 64 * 1024;

/** The last `n` lines. */
async function auditTail(path: string, n: number): Promise<Array<Record<string, unknown>>> {
  let content: string;
  try {
    const file = await open(path, "r");
    try {
      const { size } = await file.stat();
      const start = Math.max(0, size - AUDIT_TAIL_BYTES);
      const { buffer, bytesRead } = await file.read(Buffer.alloc(size - start), 0, size - start, start);
      content = buffer.subarray(0, bytesRead).toString("utf8");
      if (start > 0) content = content.slice(content.indexOf("\n") + 1); // the first line is cut
    } finally {
      await file.close();
    }
  } catch {
    return [];
  }
  return content
    .split("\n")
    .filter((line) => line.trim() !== "")
    .slice(n > 0 ? -n : Infinity) // slice(-0) would be every line
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return { unparsed: line };
      }
    });
}
