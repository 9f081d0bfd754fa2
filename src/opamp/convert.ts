/**
 * The one mapping between the wire (generated protobuf messages) and the domain types of
 * domain.ts, both ways. Nothing outside src/opamp/ sees a generated type.
 */
import { create } from "@bufbuild/protobuf";
import {
  AgentCapabilities,
  AgentDescriptionSchema,
  AvailableComponentsSchema,
  CommandType,
  ComponentDetailsSchema,
  ComponentHealthSchema,
  ConnectionSettingsRequestSchema,
  ConnectionSettingsStatusSchema,
  ConnectionSettingsStatuses,
  CustomCapabilitiesSchema,
  CustomMessageSchema,
  EffectiveConfigSchema,
  PackageStatusEnum,
  PackageStatusesSchema,
  PackageType,
  RemoteConfigStatusSchema,
  RemoteConfigStatuses,
  ServerCapabilities,
} from "../gen/opamp_pb.js";
import type {
  AgentConfigMap,
  AgentRemoteConfig,
  ComponentDetails as WireComponentDetails,
  ComponentHealth as WireComponentHealth,
  ConnectionSettingsOffers,
  ConnectionSettingsRequest,
  CustomMessage as WireCustomMessage,
  OpAMPConnectionSettings,
  TelemetryConnectionSettings,
  PackagesAvailable,
  ServerToAgentCommand,
} from "../gen/opamp_pb.js";
import type { KeyValue } from "../gen/anyvalue_pb.js";
import type {
  AgentCapability,
  AgentCommand,
  ApplyStatus,
  AttributeValue,
  CertificateRequest,
  ComponentDetails,
  ComponentHealth,
  ConfigFile,
  ConnectionSettingsOffer,
  CustomMessage,
  OfferedPackage,
  OfferedSettings,
  OfferedTelemetry,
  PackageStatusValue,
  PackagesOffer,
  RemoteConfigOffer,
  ServerCapability,
  StatusKey,
  Statuses,
} from "./domain.js";
import type { WireStatus } from "./report-state.js";

// --- server to agent ---------------------------------------------------------------------

export function remoteConfigFromWire(rc: AgentRemoteConfig): RemoteConfigOffer {
  return { hash: rc.configHash, configMap: configMapFromWire(rc.config) };
}

export function connectionSettingsFromWire(offer: ConnectionSettingsOffers): ConnectionSettingsOffer {
  return {
    hash: offer.hash,
    opamp: offer.opamp ? opampSettingsFromWire(offer.opamp) : undefined,
    ownMetrics: offer.ownMetrics ? telemetrySettingsFromWire(offer.ownMetrics) : undefined,
    ownTraces: offer.ownTraces ? telemetrySettingsFromWire(offer.ownTraces) : undefined,
    ownLogs: offer.ownLogs ? telemetrySettingsFromWire(offer.ownLogs) : undefined,
  };
}

function opampSettingsFromWire(opamp: OpAMPConnectionSettings): OfferedSettings {
  return {
    ...telemetrySettingsFromWire(opamp),
    heartbeatIntervalSeconds: Number(opamp.heartbeatIntervalSeconds),
  };
}

/** The fields OpAMP and telemetry connection settings share (same names, same meaning). */
function telemetrySettingsFromWire(settings: OpAMPConnectionSettings | TelemetryConnectionSettings): OfferedTelemetry {
  const cert = settings.certificate;
  const tls = settings.tls;
  return {
    endpoint: settings.destinationEndpoint,
    headers: settings.headers ? settings.headers.headers.map((h) => ({ key: h.key, value: h.value })) : undefined,
    // OpAMP carries PEM as bytes; they are ASCII text.
    certificate: cert
      ? { certPem: text(cert.cert), keyPem: text(cert.privateKey), caPem: text(cert.caCert) }
      : undefined,
    tls: tls
      ? {
          caPem: tls.caPemContents,
          includeSystemCa: tls.includeSystemCaCertsPool,
          insecureSkipVerify: tls.insecureSkipVerify,
          minVersion: tls.minVersion,
          maxVersion: tls.maxVersion,
          cipherSuites: tls.cipherSuites,
        }
      : undefined,
    hasProxy: settings.proxy !== undefined,
  };
}

export function packagesFromWire(msg: PackagesAvailable): PackagesOffer {
  const packages = Object.entries(msg.packages).map(([name, pkg]): OfferedPackage => {
    const file = pkg.file;
    const headers: Record<string, string> = {};
    for (const header of file?.headers?.headers ?? [])
      if (header.key !== "") headers[header.key.toLowerCase()] = header.value;
    return {
      name,
      kind: pkg.type === PackageType.PackageType_Addon ? "addon" : "top-level",
      version: pkg.version,
      hash: pkg.hash,
      file: file
        ? { url: file.downloadUrl, contentHash: file.contentHash, signature: file.signature, headers }
        : undefined,
    };
  });
  packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { allPackagesHash: msg.allPackagesHash, packages };
}

/** Undefined for a command type this protocol version does not define. */
export function commandFromWire(command: ServerToAgentCommand): AgentCommand | undefined {
  return command.type === CommandType.CommandType_Restart ? { kind: "restart" } : undefined;
}

export function customMessageFromWire(msg: WireCustomMessage): CustomMessage {
  return { capability: msg.capability, type: msg.type, data: msg.data };
}

// --- agent to server ---------------------------------------------------------------------

const APPLY_REMOTE: Record<ApplyStatus, RemoteConfigStatuses> = {
  UNSET: RemoteConfigStatuses.RemoteConfigStatuses_UNSET,
  APPLIED: RemoteConfigStatuses.RemoteConfigStatuses_APPLIED,
  APPLYING: RemoteConfigStatuses.RemoteConfigStatuses_APPLYING,
  FAILED: RemoteConfigStatuses.RemoteConfigStatuses_FAILED,
};

const APPLY_CONNECTION: Record<ApplyStatus, ConnectionSettingsStatuses> = {
  UNSET: ConnectionSettingsStatuses.ConnectionSettingsStatuses_UNSET,
  APPLIED: ConnectionSettingsStatuses.ConnectionSettingsStatuses_APPLIED,
  APPLYING: ConnectionSettingsStatuses.ConnectionSettingsStatuses_APPLYING,
  FAILED: ConnectionSettingsStatuses.ConnectionSettingsStatuses_FAILED,
};

const PACKAGE_STATUS: Record<PackageStatusValue, PackageStatusEnum> = {
  INSTALLED: PackageStatusEnum.PackageStatusEnum_Installed,
  INSTALL_PENDING: PackageStatusEnum.PackageStatusEnum_InstallPending,
  INSTALLING: PackageStatusEnum.PackageStatusEnum_Installing,
  INSTALL_FAILED: PackageStatusEnum.PackageStatusEnum_InstallFailed,
  DOWNLOADING: PackageStatusEnum.PackageStatusEnum_Downloading,
};

type ToWire = { [K in StatusKey]: (value: Statuses[K]) => WireStatus<K> };

const STATUS_TO_WIRE: ToWire = {
  agentDescription: (d) =>
    create(AgentDescriptionSchema, {
      identifyingAttributes: keyValues(d.identifying),
      nonIdentifyingAttributes: keyValues(d.nonIdentifying),
    }),
  health: (h) => healthToWire(h),
  effectiveConfig: (c) => create(EffectiveConfigSchema, { configMap: { configMap: c.configMap } }),
  remoteConfigStatus: (s) =>
    create(RemoteConfigStatusSchema, {
      lastRemoteConfigHash: s.hash,
      status: APPLY_REMOTE[s.status],
      errorMessage: s.errorMessage,
    }),
  connectionSettingsStatus: (s) =>
    create(ConnectionSettingsStatusSchema, {
      lastConnectionSettingsHash: s.hash,
      status: APPLY_CONNECTION[s.status],
      errorMessage: s.errorMessage,
    }),
  packageStatuses: (p) =>
    create(PackageStatusesSchema, {
      serverProvidedAllPackagesHash: p.serverProvidedAllPackagesHash,
      errorMessage: p.errorMessage,
      packages: Object.fromEntries(
        Object.entries(p.packages).map(([name, s]) => [
          name,
          {
            name: s.name,
            agentHasVersion: s.agentHasVersion,
            agentHasHash: s.agentHasHash,
            serverOfferedVersion: s.serverOfferedVersion,
            serverOfferedHash: s.serverOfferedHash,
            status: PACKAGE_STATUS[s.status],
            errorMessage: s.errorMessage,
            ...(s.download
              ? {
                  downloadDetails: {
                    downloadPercent: s.download.percent,
                    downloadBytesPerSecond: s.download.bytesPerSecond,
                  },
                }
              : {}),
          },
        ]),
      ),
    }),
  customCapabilities: (c) => create(CustomCapabilitiesSchema, { capabilities: [...c.capabilities] }),
  availableComponents: (a) =>
    create(AvailableComponentsSchema, { hash: a.hash, components: componentsToWire(a.components) }),
};

export function statusToWire<K extends StatusKey>(key: K, value: Statuses[K]): WireStatus<K> {
  return STATUS_TO_WIRE[key](value);
}

export function certificateRequestToWire(request: CertificateRequest): ConnectionSettingsRequest {
  return create(ConnectionSettingsRequestSchema, {
    opamp: { certificateRequest: { csr: new TextEncoder().encode(request.csrPem) } },
  });
}

export function customMessageToWire(msg: CustomMessage): WireCustomMessage {
  return create(CustomMessageSchema, msg);
}

// --- capabilities -----------------------------------------------------------------------

const AGENT_BITS: Record<AgentCapability, AgentCapabilities> = {
  reportsStatus: AgentCapabilities.AgentCapabilities_ReportsStatus,
  acceptsRemoteConfig: AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig,
  reportsEffectiveConfig: AgentCapabilities.AgentCapabilities_ReportsEffectiveConfig,
  acceptsPackages: AgentCapabilities.AgentCapabilities_AcceptsPackages,
  reportsPackageStatuses: AgentCapabilities.AgentCapabilities_ReportsPackageStatuses,
  reportsOwnTraces: AgentCapabilities.AgentCapabilities_ReportsOwnTraces,
  reportsOwnMetrics: AgentCapabilities.AgentCapabilities_ReportsOwnMetrics,
  reportsOwnLogs: AgentCapabilities.AgentCapabilities_ReportsOwnLogs,
  acceptsOpampConnectionSettings: AgentCapabilities.AgentCapabilities_AcceptsOpAMPConnectionSettings,
  acceptsOtherConnectionSettings: AgentCapabilities.AgentCapabilities_AcceptsOtherConnectionSettings,
  acceptsRestartCommand: AgentCapabilities.AgentCapabilities_AcceptsRestartCommand,
  reportsHealth: AgentCapabilities.AgentCapabilities_ReportsHealth,
  reportsRemoteConfig: AgentCapabilities.AgentCapabilities_ReportsRemoteConfig,
  reportsHeartbeat: AgentCapabilities.AgentCapabilities_ReportsHeartbeat,
  reportsAvailableComponents: AgentCapabilities.AgentCapabilities_ReportsAvailableComponents,
  reportsConnectionSettingsStatus: AgentCapabilities.AgentCapabilities_ReportsConnectionSettingsStatus,
};

const SERVER_BITS: Record<ServerCapability, ServerCapabilities> = {
  acceptsStatus: ServerCapabilities.ServerCapabilities_AcceptsStatus,
  offersRemoteConfig: ServerCapabilities.ServerCapabilities_OffersRemoteConfig,
  acceptsEffectiveConfig: ServerCapabilities.ServerCapabilities_AcceptsEffectiveConfig,
  offersPackages: ServerCapabilities.ServerCapabilities_OffersPackages,
  acceptsPackagesStatus: ServerCapabilities.ServerCapabilities_AcceptsPackagesStatus,
  offersConnectionSettings: ServerCapabilities.ServerCapabilities_OffersConnectionSettings,
  acceptsConnectionSettingsRequest: ServerCapabilities.ServerCapabilities_AcceptsConnectionSettingsRequest,
};

/** The AgentCapabilities bitmask for `names` (ReportsStatus always included). */
export function agentCapabilityBits(names: Iterable<AgentCapability>): bigint {
  let bits = BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus);
  for (const name of names) bits |= BigInt(AGENT_BITS[name]);
  return bits;
}

export function hasAgentCapability(bits: bigint, name: AgentCapability): boolean {
  return (bits & BigInt(AGENT_BITS[name])) !== 0n;
}

export function hasServerCapability(bits: bigint, name: ServerCapability): boolean {
  return (bits & BigInt(SERVER_BITS[name])) !== 0n;
}

// --- helpers ------------------------------------------------------------------------------

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("utf8");
}

function configMapFromWire(map: AgentConfigMap | undefined): Record<string, ConfigFile> {
  return Object.fromEntries(
    Object.entries(map?.configMap ?? {}).map(([name, file]) => [
      name,
      { body: file.body, contentType: file.contentType },
    ]),
  );
}

/** Attributes sorted by key, so equal descriptions encode equally (status compression). */
function keyValues(attrs: Readonly<Record<string, AttributeValue>>): KeyValue[] {
  return Object.keys(attrs)
    .sort()
    .map((key) => ({
      $typeName: "opamp.proto.v1.KeyValue",
      key,
      value: { $typeName: "opamp.proto.v1.AnyValue", value: anyValue(attrs[key] ?? "") },
    }));
}

function anyValue(
  v: AttributeValue,
):
  | { case: "stringValue"; value: string }
  | { case: "boolValue"; value: boolean }
  | { case: "intValue"; value: bigint }
  | { case: "doubleValue"; value: number } {
  if (typeof v === "string") return { case: "stringValue", value: v };
  if (typeof v === "boolean") return { case: "boolValue", value: v };
  return Number.isSafeInteger(v) ? { case: "intValue", value: BigInt(v) } : { case: "doubleValue", value: v };
}

const msToNs = (ms: number): bigint => BigInt(Math.round(ms)) * 1_000_000n;

function healthToWire(h: ComponentHealth): WireComponentHealth {
  return create(ComponentHealthSchema, {
    healthy: h.healthy,
    // The spec wants 0 when the component is not running.
    startTimeUnixNano: h.startedAtMs === undefined ? 0n : msToNs(h.startedAtMs),
    statusTimeUnixNano: msToNs(h.observedAtMs),
    status: h.status,
    lastError: h.lastError,
    componentHealthMap: Object.fromEntries(
      Object.entries(h.components ?? {}).map(([name, c]) => [name, healthToWire(c)]),
    ),
  });
}

function componentsToWire(
  components: Readonly<Record<string, ComponentDetails>>,
): Record<string, WireComponentDetails> {
  return Object.fromEntries(
    Object.entries(components).map(([name, c]) => [
      name,
      create(ComponentDetailsSchema, {
        metadata: keyValues(c.metadata),
        subComponentMap: componentsToWire(c.subComponents),
      }),
    ]),
  );
}
