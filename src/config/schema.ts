/**
 * The validated, defaulted, frozen supervisor configuration that every inner module receives.
 * Built only by `resolveSupervisorConfig` (load.ts); nothing downstream re-checks it.
 * Durations are whole milliseconds (`…Ms`), paths are absolute, and every key is present
 * (absent optional values are `null`).
 */

export const REMOTE_CONFIG_TOKEN = "$REMOTE_CONFIG";
export const OWN_TELEMETRY_CONFIG_TOKEN = "$OWN_TELEMETRY_CONFIG";
export const OPAMP_EXTENSION_CONFIG_TOKEN = "$OPAMP_EXTENSION_CONFIG";

export const CONFIG_FILE_TOKENS = [
  REMOTE_CONFIG_TOKEN,
  OWN_TELEMETRY_CONFIG_TOKEN,
  OPAMP_EXTENSION_CONFIG_TOKEN,
] as const;
export type ConfigFileToken = (typeof CONFIG_FILE_TOKENS)[number];

export function isConfigFileToken(entry: string): entry is ConfigFileToken {
  return (CONFIG_FILE_TOKENS as readonly string[]).includes(entry);
}

import type { AuthSettings } from "./schema-auth.js";
import type { ResolvedTelemetry } from "./schema-telemetry.js";

export * from "./schema-auth.js";
export * from "./schema-telemetry.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * zap's level names (lower case) → ours, for supervisor.yaml's level and the collector's own
 * log lines. dpanic, panic and fatal are zap levels above error; here they are errors.
 */
export const ZAP_LEVELS: Readonly<Record<string, LogLevel>> = {
  debug: "debug",
  info: "info",
  warn: "warn",
  error: "error",
  dpanic: "error",
  panic: "error",
  fatal: "error",
};
/** The minimum this supervisor connects with; "1.0"/"1.1" in supervisor.yaml are raised to "1.2". */
export type TlsMinVersion = "1.2" | "1.3";
export type TlsMaxVersion = "1.2" | "1.3";
export type TlsVersion = "1.0" | "1.1" | "1.2" | "1.3";
export type ServerTransport = "websocket" | "http";

export interface ResolvedTls {
  readonly insecure: boolean;
  readonly insecureSkipVerify: boolean;
  readonly caFile: string | null;
  readonly certFile: string | null;
  readonly keyFile: string | null;
  /** Inline PEM instead of the matching file (ca_pem, cert_pem, key_pem). key_pem is a secret. */
  readonly caPem: string | null;
  readonly certPem: string | null;
  readonly keyPem: string | null;
  readonly minVersion: TlsMinVersion;
  /** server.tls.max_version; null: the highest Node offers. */
  readonly maxVersion: TlsMaxVersion | null;
  /** Go (IANA) cipher suite names and curve names as written; empty: Node's defaults. */
  readonly cipherSuites: readonly string[];
  readonly curvePreferences: readonly string[];
  /** With ca_file/ca_pem: trust the system roots as well. */
  readonly includeSystemCaCertsPool: boolean;
  readonly serverNameOverride: string | null;
  /** Ask the server for a new client certificate (CSR) this long before expiry; 0 = never ask. */
  readonly renewBeforeMs: number;
  /** How often the expiry is checked. */
  readonly renewCheckIntervalMs: number;
  /** First re-send of an unanswered certificate request; doubles up to renewCheckIntervalMs. */
  readonly renewRetryIntervalMs: number;
  /** Watch cert_file, key_file and ca_file and reconnect with a rotated set. */
  readonly watchFiles: boolean;
  /** How long new connection settings (an offer, a rotated certificate) have to prove themselves. */
  readonly connectionTrialTimeoutMs: number;
}

/** server.tls defaults (durations in milliseconds). */
export const TLS_DEFAULTS = {
  renewBeforeMs: 30 * 24 * 3_600_000,
  renewCheckIntervalMs: 24 * 3_600_000,
  renewRetryIntervalMs: 60_000,
  watchFiles: true,
  connectionTrialTimeoutMs: 30_000,
} as const;

export interface ResolvedServer {
  /** ws, wss, http or https URL, as written (after ${VAR} expansion). */
  readonly endpoint: string;
  /** `websocket` for ws/wss, `http` (polling) for http/https. */
  readonly transport: ServerTransport;
  /** Static headers. Values may be secrets: never log them. */
  readonly headers: Readonly<Record<string, string>>;
  /** Heartbeat period, and the polling period over plain HTTP, until the server offers one. */
  readonly heartbeatIntervalMs: number;
  readonly tls: ResolvedTls;
  /** server.auth resolved against the top-level extensions; null when not set. Secrets inside. */
  readonly auth: AuthSettings | null;
}

export interface ResolvedCapabilities {
  readonly reportsEffectiveConfig: boolean;
  readonly reportsOwnMetrics: boolean;
  readonly reportsOwnLogs: boolean;
  readonly reportsOwnTraces: boolean;
  readonly reportsHealth: boolean;
  readonly acceptsRemoteConfig: boolean;
  readonly reportsRemoteConfig: boolean;
  readonly acceptsRestartCommand: boolean;
  readonly acceptsOpampConnectionSettings: boolean;
  readonly acceptsOtherConnectionSettings: boolean;
  readonly reportsAvailableComponents: boolean;
  readonly reportsHeartbeat: boolean;
  readonly acceptsPackages: boolean;
  readonly reportsPackageStatuses: boolean;
  readonly reportsConnectionSettingsStatus: boolean;
}

export interface ResolvedHealth {
  /** host:port of the collector's health_check extension. */
  readonly endpoint: string;
  /** HTTP path, starts with "/". */
  readonly path: string;
  readonly intervalMs: number;
  /**
   * Between checks once the collector is healthy and no config is being proven (≥ intervalMs):
   * a probe costs ~1.5 ms of CPU here, so a steady 1 s rhythm alone would be 0.15 % of a core.
   * A failed check goes back to intervalMs at once; crashes are seen at exit, not by probes.
   */
  readonly steadyIntervalMs: number;
  /** Number of most recent checks considered. */
  readonly window: number;
  /** Consecutive passes within the window that prove a config good; ≤ window. */
  readonly passesRequired: number;
  readonly requestTimeoutMs: number;
  /** Add a health_check extension to the composed config when the user has none. */
  readonly injectExtension: boolean;
}

export interface ResolvedRestart {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  /** Fraction in [0, 1] of random spread applied to each delay. */
  readonly jitter: number;
  /** How long a run must stay healthy before the backoff resets. */
  readonly resetAfterMs: number;
}

/** `agent.package`: how collector packages offered by the server are checked and installed. */
export interface ResolvedPackage {
  /** `raw`: the downloaded file is the collector binary; `tar.gz`: it holds `agentBinary`. */
  readonly archive: PackageArchive;
  /** Relative path of the binary inside a tar.gz (required for tar.gz, else null). */
  readonly agentBinary: string | null;
  /** Trusted Ed25519 public keys, canonical base64 of 32 bytes; a signature by any one is accepted. */
  readonly publicKeys: readonly string[];
  /** The loud opt-out: accept packages without checking signatures (content_hash is still checked). */
  readonly insecureAcceptUnsignedPackages: boolean;
  /** Cap on the download and on what is extracted from an archive, in bytes. */
  readonly maxSizeBytes: number;
  /** Whole download, all attempts included. */
  readonly downloadTimeoutMs: number;
  /** An attempt that receives no bytes for this long is abandoned (and resumed by the next). */
  readonly downloadIdleTimeoutMs: number;
  /** Attempts per package; every attempt after the first resumes with a Range request. */
  readonly downloadAttempts: number;
  readonly maxRedirects: number;
  /** Least time between two DOWNLOADING progress reports. */
  readonly progressIntervalMs: number;
}

export type PackageArchive = "raw" | "tar.gz";

/** child: the collector is our child process; sidecar: it runs in another container of the pod. */
export type RunMode = "child" | "sidecar";

export interface ResolvedSidecar {
  /** A collector binary the supervisor's own container can run for `validate`/`--version`; null: the collector's through /proc/<pid>/exe. */
  readonly validateExecutable: string | null;
  /** How long a start waits for the collector process to appear in the shared PID namespace. */
  readonly startTimeoutMs: number;
}

export interface ResolvedAgent {
  readonly run: RunMode;
  /**
   * Absolute path of the collector binary. In a sidecar: the path as the collector's own
   * container sees it, by which its process is recognised.
   */
  readonly executable: string;
  readonly sidecar: ResolvedSidecar;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Absolute paths and the $… tokens, in merge order. */
  readonly configFiles: readonly string[];
  readonly description: {
    readonly identifyingAttributes: Readonly<Record<string, string>>;
    readonly nonIdentifyingAttributes: Readonly<Record<string, string>>;
    /** Copy the collector's service.telemetry.resource attributes into the description. */
    readonly includeResourceAttributes: boolean;
  };
  /** Lower-case UUID, or null to use the persisted/generated one. */
  readonly instanceId: string | null;
  readonly configApplyTimeoutMs: number;
  /** agent.automatic_config_rollback as written (true by default here: this supervisor always rolls back). */
  readonly automaticConfigRollback: boolean;
  /** agent.opamp_server_port (0: none given); no local OpAMP server exists here. */
  readonly opampServerPort: number;
  readonly orphanDetectionIntervalMs: number;
  readonly bootstrapTimeoutMs: number;
  readonly useHupConfigReload: boolean;
  readonly validateConfig: boolean;
  /** Absolute paths. */
  readonly startupFallbackConfigs: readonly string[];
  readonly passthroughLogs: boolean;
  readonly collectorCrashLogSnippetKib: number;
  readonly stopTimeoutMs: number;
  readonly health: ResolvedHealth;
  readonly restart: ResolvedRestart;
  readonly package: ResolvedPackage;
}

export interface ResolvedConfig {
  /** Absolute path of the supervisor.yaml this came from. */
  readonly sourcePath: string;
  readonly server: ResolvedServer;
  readonly capabilities: ResolvedCapabilities;
  readonly agent: ResolvedAgent;
  readonly storage: {
    readonly directory: string;
    /** First retry of an offer a refused state-directory write stopped; doubles per attempt. */
    readonly retryIntervalMs: number;
  };
  readonly telemetry: ResolvedTelemetry;
  /** The supervisor's own /health endpoint, "host:port"; "" when off (no port given). */
  readonly healthcheck: { readonly endpoint: string };
  /**
   * What the file asks for that this supervisor accepts but does not do (yet), one line per
   * key, each naming the key: logged once at start and printed by `validate`.
   */
  readonly warnings: readonly string[];
}

/** Capability defaults, keyed by the supervisor.yaml spelling. */
export const CAPABILITY_DEFAULTS = {
  reports_effective_config: true,
  reports_own_metrics: false,
  reports_own_logs: false,
  reports_own_traces: false,
  reports_health: true,
  accepts_remote_config: false,
  reports_remote_config: false,
  accepts_restart_command: false,
  accepts_opamp_connection_settings: false,
  accepts_other_connection_settings: false,
  reports_available_components: false,
  reports_heartbeat: true,
  accepts_packages: false,
  reports_package_statuses: false,
  reports_connection_settings_status: false,
} as const satisfies Record<string, boolean>;

/**
 * Capabilities accepted in supervisor.yaml whose behaviour does not exist here yet: never
 * advertised to the server (capabilityBits skips them) and warned about at start when set.
 * Remove a key from this list in the change that implements it.
 */
export const CAPABILITIES_WITHOUT_BEHAVIOUR = ["accepts_other_connection_settings"] as const satisfies ReadonlyArray<
  keyof typeof CAPABILITY_DEFAULTS
>;

/** Scalar defaults, keyed by the supervisor.yaml spelling; durations in milliseconds. */
export const DEFAULTS = {
  heartbeatIntervalMs: 30_000,
  tlsMinVersion: "1.2",
  automaticConfigRollback: true,
  configApplyTimeoutMs: 5_000,
  orphanDetectionIntervalMs: 5_000,
  bootstrapTimeoutMs: 3_000,
  useHupConfigReload: false,
  validateConfig: true,
  passthroughLogs: false,
  collectorCrashLogSnippetKib: 4,
  stopTimeoutMs: 10_000,
  run: "child",
  sidecarStartTimeoutMs: 60_000,
  health: {
    endpoint: "localhost:13133",
    path: "/",
    intervalMs: 1_000,
    steadyIntervalMs: 10_000,
    window: 10,
    passesRequired: 5,
    requestTimeoutMs: 1_000,
    injectExtension: true,
  },
  restart: {
    initialDelayMs: 250,
    maxDelayMs: 60_000,
    multiplier: 2,
    jitter: 0.2,
    resetAfterMs: 60_000,
  },
  package: {
    archive: "raw",
    maxSizeBytes: 1024 * 1024 * 1024,
    downloadTimeoutMs: 30 * 60_000,
    downloadIdleTimeoutMs: 60_000,
    downloadAttempts: 3,
    maxRedirects: 5,
    progressIntervalMs: 1_000,
  },
  storageDirectory: "/var/lib/otelcol/supervisor",
  storageRetryIntervalMs: 10_000,
  logLevel: "info",
} as const;

/** Upper bound of agent.collector_crash_log_snippet_kib (the official supervisor's cap). */
export const MAX_CRASH_LOG_SNIPPET_KIB = 1024;
