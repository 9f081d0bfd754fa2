/**
 * The OpAMP connection settings in force, where they came from, and how they were chosen
 * at start: supervisor.yaml, unless accepted offers were persisted since (and supervisor.yaml's
 * server section has not changed underneath them, and their certificate is still valid).
 */
import { readFile } from "node:fs/promises";
import type { ResolvedConfig } from "../config/schema.js";
import type { Logger } from "../deps.js";
import { isSecureEndpoint } from "../opamp/endpoint.js";
import { bytesToHex } from "../storage/json-shape.js";
import { StateCorruptError } from "../storage/state.js";
import { certificateInfo, checkCertificate } from "./certificate.js";
import type { CertificateInfo } from "./certificate.js";
import { settingsBaseline } from "./credential-store.js";
import type { CertificateRef, CredentialStore, StoredConnectionSettings } from "./credential-store.js";
import { readSnapshot } from "./file-watch.js";
import type { FileSnapshot, WatchedFiles } from "./file-watch.js";
import type { SettingsInForce, TlsVersion } from "./offer-policy.js";
import { sha256Hex } from "./pem.js";
import { authOf } from "./auth.js";
import { describeProxy, proxyFor } from "./proxy.js";
import { serverTarget } from "./target.js";
import type { ServerTarget, TargetDeps } from "./target.js";
import { caLabel } from "./tls-options.js";
import type { TlsSettings } from "./tls-options.js";

/** The client certificate in use: files read at every connect, or PEM held in memory. */
export type ClientCredential =
  | { kind: "files"; certFile: string; keyFile: string; info: CertificateInfo | undefined }
  | {
      kind: "pem";
      certPem: string;
      keyPem: string;
      info: CertificateInfo;
      source: "config" | "offer";
      ref?: CertificateRef;
    };

/** The trusted CA for the server: a file read at every connect, PEM, or the system roots. */
export type CaSource =
  { kind: "file"; file: string } | { kind: "pem"; pem: string; label: string } | { kind: "system" };

export interface ActiveSettings {
  endpoint: string;
  headers: Record<string, string>;
  minVersion: TlsVersion;
  ca: CaSource;
  client: ClientCredential | undefined;
  /** Offer hash of accepted settings; undefined while supervisor.yaml's are in force. */
  hash: Uint8Array | undefined;
  heartbeatSeconds: number | null;
}

export interface InitialSettings {
  active: ActiveSettings;
  /** Fingerprint of supervisor.yaml's server section. */
  baseline: string;
  /** The configured files as read at start, when they are watched. */
  snapshot: FileSnapshot | undefined;
}

/** Files of supervisor.yaml that a rotation replaces. */
export function watchedFiles(config: ResolvedConfig): WatchedFiles {
  const tls = config.server.tls;
  return { certFile: tls.certFile ?? undefined, keyFile: tls.keyFile ?? undefined, caFile: tls.caFile ?? undefined };
}

export async function loadInitialSettings(
  config: ResolvedConfig,
  store: CredentialStore,
  options: { now: number; logger: Logger },
): Promise<InitialSettings> {
  const { logger, now } = options;
  const tls = config.server.tls;
  const baseline = settingsBaseline({
    endpoint: config.server.endpoint,
    headers: sha256Hex(JSON.stringify(config.server.headers)),
    ca: tls.caFile ?? (tls.caPem ? sha256Hex(tls.caPem) : null),
    cert: tls.certFile ?? (tls.certPem ? sha256Hex(tls.certPem) : null),
    minVersion: tls.minVersion,
  });
  let ca: CaSource = tls.caPem
    ? { kind: "pem", pem: tls.caPem, label: "the configured CA (server.tls.ca_pem)" }
    : tls.caFile
      ? { kind: "file", file: tls.caFile }
      : { kind: "system" };
  let client: ClientCredential | undefined;
  if (tls.certPem && tls.keyPem) {
    const check = checkCertificate({ certPem: tls.certPem, keyPem: tls.keyPem, now, label: "server.tls.cert_pem" });
    if (check.ok)
      client = { kind: "pem", certPem: tls.certPem, keyPem: tls.keyPem, info: check.info, source: "config" };
    else logger.error({ reason: check.message }, "the configured client certificate is not usable");
  } else if (tls.certFile && tls.keyFile) {
    // Read once for the expiry the renewal needs; the client reads the files at every connect.
    const certPem = await readFile(tls.certFile, "utf8").catch(() => undefined);
    client = {
      kind: "files",
      certFile: tls.certFile,
      keyFile: tls.keyFile,
      info: certPem === undefined ? undefined : certificateInfo(certPem),
    };
  }

  // Watched files are read once now and held in memory, so a half-written rotation can never
  // break a reconnect; the watcher swaps in a new set once it is consistent.
  let snapshot: FileSnapshot | undefined;
  const files = watchedFiles(config);
  if (tls.watchFiles && (files.certFile || files.caFile) && isSecureEndpoint(config.server.endpoint)) {
    const read = await readSnapshot(files, now);
    if (read.ok) {
      snapshot = read.snapshot;
      if (snapshot.caPem && tls.caFile)
        ca = { kind: "pem", pem: snapshot.caPem, label: `server.tls.ca_file ${tls.caFile}` };
      if (snapshot.certPem && snapshot.keyPem && snapshot.info) {
        client = {
          kind: "pem",
          certPem: snapshot.certPem,
          keyPem: snapshot.keyPem,
          info: snapshot.info,
          source: "config",
        };
      }
    } else {
      logger.error(
        { reason: read.reason },
        "the configured TLS files are not usable; connecting will fail until they are fixed",
      );
    }
  }

  const fromConfig: ActiveSettings = {
    endpoint: config.server.endpoint,
    headers: { ...config.server.headers },
    minVersion: tls.minVersion === "1.3" ? "TLSv1.3" : "TLSv1.2",
    ca,
    client,
    hash: undefined,
    heartbeatSeconds: null,
  };
  const accepted = await readAccepted(store, logger);
  if (!accepted) return { active: fromConfig, baseline, snapshot };
  if (accepted.baseline !== baseline) {
    logger.info(
      "supervisor.yaml's server settings changed since connection settings were accepted from the server; using supervisor.yaml",
    );
    await store.clearSettings();
    return { active: fromConfig, baseline, snapshot };
  }
  let acceptedClient = fromConfig.client;
  if (accepted.certificate) {
    const stored = await store.readCertificate(accepted.certificate).catch(() => undefined);
    const check =
      stored &&
      checkCertificate({
        certPem: stored.certPem,
        keyPem: stored.keyPem,
        now,
        label: "the accepted client certificate",
      });
    if (!stored || !check?.ok) {
      logger.warn(
        { reason: check && !check.ok ? check.message : "its files are missing" },
        "the client certificate accepted from the server is not usable; falling back to supervisor.yaml's settings",
      );
      return { active: fromConfig, baseline, snapshot };
    }
    acceptedClient = {
      kind: "pem",
      certPem: stored.certPem,
      keyPem: stored.keyPem,
      info: check.info,
      source: "offer",
      ref: accepted.certificate,
    };
  }
  const active: ActiveSettings = {
    endpoint: accepted.endpoint,
    headers: accepted.headers,
    minVersion: accepted.minVersion,
    ca,
    client: acceptedClient,
    hash: accepted.hash,
    heartbeatSeconds: accepted.heartbeatSeconds,
  };
  return { active, baseline, snapshot };
}

async function readAccepted(store: CredentialStore, logger: Logger): Promise<StoredConnectionSettings | undefined> {
  try {
    return await store.readSettings();
  } catch (err) {
    if (!(err instanceof StateCorruptError)) throw err;
    logger.error(
      { file: err.file, reason: err.message },
      "accepted connection settings are unreadable; using supervisor.yaml",
    );
    return undefined;
  }
}

/** The client's connection target for `active`. */
export function targetFor(active: ActiveSettings, config: ResolvedConfig, deps: TargetDeps): ServerTarget {
  return serverTarget({ endpoint: active.endpoint, headers: active.headers, tls: tlsFor(active, config) }, deps);
}

export function tlsFor(active: ActiveSettings, config: ResolvedConfig): TlsSettings {
  const tls: TlsSettings = { minVersion: active.minVersion };
  if (active.ca.kind === "file") tls.caFile = active.ca.file;
  if (active.ca.kind === "pem") tls.caPem = active.ca.pem;
  const client = active.client;
  if (client?.kind === "files") {
    tls.certFile = client.certFile;
    tls.keyFile = client.keyFile;
  } else if (client) {
    tls.certPem = client.certPem;
    tls.keyPem = client.keyPem;
    tls.certLabel =
      client.source === "offer"
        ? `the client certificate accepted from the server (${shortFingerprint(client.info)})`
        : `the client certificate from ${describeConfigCert(config)}`;
  }
  const { maxVersion, includeSystemCaCertsPool } = config.server.tls;
  if (maxVersion) tls.maxVersion = maxVersion === "1.3" ? "TLSv1.3" : "TLSv1.2";
  if (includeSystemCaCertsPool && active.ca.kind !== "system") tls.systemRoots = true;
  if (config.server.tls.serverNameOverride) tls.serverName = config.server.tls.serverNameOverride;
  if (config.server.tls.insecureSkipVerify) tls.insecureSkipVerify = true;
  return tls;
}

/** What the offer policy needs to know about the settings in force (reads files when they are file-based). */
export async function policyState(active: ActiveSettings, config: ResolvedConfig): Promise<SettingsInForce> {
  const caPem =
    active.ca.kind === "pem"
      ? active.ca.pem
      : active.ca.kind === "file"
        ? await readFile(active.ca.file, "utf8").catch(() => undefined)
        : undefined;
  let client: SettingsInForce["client"];
  if (active.client?.kind === "pem") client = { certPem: active.client.certPem, keyPem: active.client.keyPem };
  else if (active.client?.kind === "files") {
    const [certPem, keyPem] = await Promise.all([
      readFile(active.client.certFile, "utf8"),
      readFile(active.client.keyFile, "utf8"),
    ]).catch(() => []);
    if (certPem !== undefined && keyPem !== undefined) client = { certPem, keyPem };
  }
  return {
    endpoint: active.endpoint,
    headers: active.headers,
    minVersion: active.minVersion,
    insecureSkipVerify: config.server.tls.insecureSkipVerify,
    caPems: caPem === undefined ? undefined : [caPem],
    caLabel: active.ca.kind === "pem" ? active.ca.label : caLabel(tlsFor(active, config)),
    client,
  };
}

/** How a certificate appears in log and audit lines: never its key. */
export function certificateSummary(info: CertificateInfo): { subject: string; notAfter: string; fingerprint: string } {
  return {
    subject: info.subject,
    notAfter: new Date(info.notAfter).toISOString(),
    fingerprint: shortFingerprint(info),
  };
}

/**
 * The settings to try after supervisor.yaml's TLS files were rotated on disk: the new CA, and
 * the new client pair unless a certificate the server offered is in force (it wins until
 * supervisor.yaml changes).
 */
export function rotatedSettings(
  current: ActiveSettings,
  snapshot: FileSnapshot,
  config: ResolvedConfig,
): ActiveSettings {
  const candidate: ActiveSettings = { ...current };
  const caFile = config.server.tls.caFile;
  if (snapshot.caPem && caFile)
    candidate.ca = { kind: "pem", pem: snapshot.caPem, label: `server.tls.ca_file ${caFile}` };
  const configCertInUse =
    current.client === undefined || current.client.kind === "files" || current.client.source === "config";
  if (configCertInUse && snapshot.certPem && snapshot.keyPem && snapshot.info) {
    candidate.client = {
      kind: "pem",
      certPem: snapshot.certPem,
      keyPem: snapshot.keyPem,
      info: snapshot.info,
      source: "config",
    };
  }
  return candidate;
}

export function shortFingerprint(info: CertificateInfo): string {
  return info.fingerprint.replaceAll(":", "").slice(0, 16).toLowerCase();
}

function describeConfigCert(config: ResolvedConfig): string {
  return config.server.tls.certFile ? `server.tls.cert_file ${config.server.tls.certFile}` : "server.tls.cert_pem";
}

/** One line at start: which settings are in force and where they came from; warnings for TLS settings that do nothing or weaken it. */
export function describeSettings(a: ActiveSettings, config: ResolvedConfig, logger: Logger): void {
  const tls = config.server.tls;
  const client =
    a.client?.kind === "pem"
      ? {
          subject: a.client.info.subject,
          notAfter: new Date(a.client.info.notAfter).toISOString(),
          source: a.client.source,
        }
      : a.client
        ? { files: [a.client.certFile, a.client.keyFile] }
        : null;
  logger.info(
    {
      endpoint: a.endpoint,
      source: a.hash ? `accepted offer ${bytesToHex(a.hash)}` : "supervisor.yaml",
      headerNames: Object.keys(a.headers).sort(),
      clientCertificate: client,
      proxy: describeProxy(proxyFor(a.endpoint)),
      auth: authOf(config)?.id ?? null,
    },
    "OpAMP connection settings",
  );
  if (!isSecureEndpoint(a.endpoint) && (tls.caFile || tls.certFile || tls.caPem || tls.certPem)) {
    logger.warn(
      { endpoint: a.endpoint },
      "server.tls is set but the endpoint is not wss:// or https://; TLS follows the endpoint scheme, so it is not used",
    );
  }
  if (isSecureEndpoint(a.endpoint) && tls.insecureSkipVerify) {
    logger.warn("server certificate verification is OFF (server.tls.insecure_skip_verify: true)");
  }
}
