/**
 * supervisor.yaml capability switches → the AgentCapabilities bitmask. A bit is advertised
 * only when its behaviour exists: the switches listed in CAPABILITIES_WITHOUT_BEHAVIOUR are
 * accepted (and warned about at load) but never sent to the server.
 */
import { CAPABILITIES_WITHOUT_BEHAVIOUR, type ResolvedCapabilities } from "../config/schema.js";
import { agentCapabilityBits } from "../opamp/convert.js";
import type { AgentCapability } from "../opamp/domain.js";

const NAMES: Record<keyof ResolvedCapabilities, AgentCapability> = {
  reportsEffectiveConfig: "reportsEffectiveConfig",
  reportsOwnMetrics: "reportsOwnMetrics",
  reportsOwnLogs: "reportsOwnLogs",
  reportsOwnTraces: "reportsOwnTraces",
  reportsHealth: "reportsHealth",
  acceptsRemoteConfig: "acceptsRemoteConfig",
  reportsRemoteConfig: "reportsRemoteConfig",
  acceptsRestartCommand: "acceptsRestartCommand",
  acceptsOpampConnectionSettings: "acceptsOpampConnectionSettings",
  acceptsOtherConnectionSettings: "acceptsOtherConnectionSettings",
  reportsAvailableComponents: "reportsAvailableComponents",
  reportsHeartbeat: "reportsHeartbeat",
  acceptsPackages: "acceptsPackages",
  reportsPackageStatuses: "reportsPackageStatuses",
  reportsConnectionSettingsStatus: "reportsConnectionSettingsStatus",
};

/** supervisor.yaml spelling → ResolvedCapabilities key ("reports_own_metrics" → "reportsOwnMetrics"). */
export function capabilityKey(key: string): keyof ResolvedCapabilities {
  return key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase()) as keyof ResolvedCapabilities;
}

const NOT_ADVERTISED: ReadonlySet<keyof ResolvedCapabilities> = new Set(
  CAPABILITIES_WITHOUT_BEHAVIOUR.map(capabilityKey),
);

/** What only the running supervisor knows: whether the collector's inventory could be read. */
export interface RuntimeCapabilities {
  /** `<collector> components` was read and parsed; without it ReportsAvailableComponents stays off. */
  availableComponents?: boolean;
}

export function capabilityBits(capabilities: ResolvedCapabilities, runtime: RuntimeCapabilities = {}): bigint {
  const on = (Object.keys(NAMES) as (keyof ResolvedCapabilities)[]).filter(
    (key) =>
      capabilities[key] &&
      !NOT_ADVERTISED.has(key) &&
      (key !== "reportsAvailableComponents" || runtime.availableComponents === true),
  );
  return agentCapabilityBits(on.map((key) => NAMES[key]));
}
