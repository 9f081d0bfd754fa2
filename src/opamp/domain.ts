/**
 * OpAMP as the rest of the supervisor sees it: plain data, no generated protobuf types.
 * The client's events carry these and its setters take them; convert.ts is the one place
 * that maps them to and from the wire messages.
 */

/** One file of a config map (AgentConfigFile). */
export interface ConfigFile {
  body: Uint8Array;
  contentType: string;
}

/** A remote config offer (AgentRemoteConfig). The hash is the server's opaque bytes. */
export interface RemoteConfigOffer {
  hash: Uint8Array;
  configMap: Record<string, ConfigFile>;
}

export interface OfferedTls {
  caPem: string;
  includeSystemCa: boolean;
  insecureSkipVerify: boolean;
  minVersion: string;
  maxVersion: string;
  cipherSuites: readonly string[];
}

/**
 * The fields every connection of an offer has, decoded to text; empty strings mean "not
 * given". Alone, a TelemetryConnectionSettings: where the agent's own metrics, traces or logs
 * go (OTLP/HTTP, the full URL including the path; "" turns that signal off).
 */
export interface OfferedTelemetry {
  endpoint: string;
  headers: ReadonlyArray<{ key: string; value: string }> | undefined;
  certificate: { certPem: string; keyPem: string; caPem: string } | undefined;
  tls: OfferedTls | undefined;
  hasProxy: boolean;
}

/** The opamp part of a connection settings offer. */
export interface OfferedSettings extends OfferedTelemetry {
  /** 0 when the server did not set one. */
  heartbeatIntervalSeconds: number;
}

/** ConnectionSettingsOffers; other_connections is not acted on. An absent member means "keep what you have". */
export interface ConnectionSettingsOffer {
  hash: Uint8Array;
  opamp: OfferedSettings | undefined;
  ownMetrics?: OfferedTelemetry | undefined;
  ownTraces?: OfferedTelemetry | undefined;
  ownLogs?: OfferedTelemetry | undefined;
}

export interface OfferedFile {
  url: string;
  contentHash: Uint8Array;
  signature: Uint8Array;
  /** Lower-case names. May hold credentials: never log the values. */
  headers: Record<string, string>;
}

export interface OfferedPackage {
  name: string;
  kind: "top-level" | "addon";
  version: string;
  hash: Uint8Array;
  file: OfferedFile | undefined;
}

/** PackagesAvailable, packages sorted by name. */
export interface PackagesOffer {
  allPackagesHash: Uint8Array;
  packages: OfferedPackage[];
}

/** ServerToAgentCommand; the protocol defines only restart. */
export type AgentCommand = { kind: "restart" };

export interface CustomMessage {
  capability: string;
  type: string;
  data: Uint8Array;
}

// --- what the agent reports --------------------------------------------------------------

export type AttributeValue = string | number | boolean;

export interface AgentDescription {
  identifying: Readonly<Record<string, AttributeValue>>;
  nonIdentifying: Readonly<Record<string, AttributeValue>>;
}

export interface ComponentHealth {
  healthy: boolean;
  /** When the component started (ms); undefined when it is not running. */
  startedAtMs: number | undefined;
  /** When this status was observed (ms). */
  observedAtMs: number;
  status: string;
  lastError: string;
  components?: Readonly<Record<string, ComponentHealth>>;
}

export interface EffectiveConfig {
  configMap: Record<string, ConfigFile>;
}

export type ApplyStatus = "UNSET" | "APPLYING" | "APPLIED" | "FAILED";

/** RemoteConfigStatus and ConnectionSettingsStatus have the same shape. */
export interface ApplyStatusReport {
  hash: Uint8Array;
  status: ApplyStatus;
  errorMessage: string;
}

export type PackageStatusValue = "INSTALLED" | "INSTALL_PENDING" | "INSTALLING" | "INSTALL_FAILED" | "DOWNLOADING";

export interface PackageStatusReport {
  name: string;
  agentHasVersion: string;
  agentHasHash: Uint8Array;
  serverOfferedVersion: string;
  serverOfferedHash: Uint8Array;
  status: PackageStatusValue;
  errorMessage: string;
  download?: { percent: number; bytesPerSecond: number };
}

export interface PackageStatusesReport {
  packages: Record<string, PackageStatusReport>;
  serverProvidedAllPackagesHash: Uint8Array;
  errorMessage: string;
}

export interface ComponentDetails {
  metadata: Readonly<Record<string, AttributeValue>>;
  subComponents: Readonly<Record<string, ComponentDetails>>;
}

export interface AvailableComponents {
  hash: Uint8Array;
  components: Readonly<Record<string, ComponentDetails>>;
}

/** The status sub-messages, by the key the client's `setStatus` takes. */
export interface Statuses {
  agentDescription: AgentDescription;
  health: ComponentHealth;
  effectiveConfig: EffectiveConfig;
  remoteConfigStatus: ApplyStatusReport;
  packageStatuses: PackageStatusesReport;
  customCapabilities: { capabilities: readonly string[] };
  availableComponents: AvailableComponents;
  connectionSettingsStatus: ApplyStatusReport;
}

export type StatusKey = keyof Statuses;

/** A connection settings request: a CSR in PEM for a new client certificate. */
export interface CertificateRequest {
  csrPem: string;
}

// --- capabilities -----------------------------------------------------------------------

/** AgentCapabilities by name (ReportsStatus is always sent). */
export type AgentCapability =
  | "reportsStatus"
  | "acceptsRemoteConfig"
  | "reportsEffectiveConfig"
  | "acceptsPackages"
  | "reportsPackageStatuses"
  | "reportsOwnTraces"
  | "reportsOwnMetrics"
  | "reportsOwnLogs"
  | "acceptsOpampConnectionSettings"
  | "acceptsOtherConnectionSettings"
  | "acceptsRestartCommand"
  | "reportsHealth"
  | "reportsRemoteConfig"
  | "reportsHeartbeat"
  | "reportsAvailableComponents"
  | "reportsConnectionSettingsStatus";

/** ServerCapabilities by name. */
export type ServerCapability =
  | "acceptsStatus"
  | "offersRemoteConfig"
  | "acceptsEffectiveConfig"
  | "offersPackages"
  | "acceptsPackagesStatus"
  | "offersConnectionSettings"
  | "acceptsConnectionSettingsRequest";
