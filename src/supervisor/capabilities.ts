/**
 * supervisor.yaml capability switches → the AgentCapabilities bitmask. A bit is advertised
 * only when its behaviour exists: the switches listed in CAPABILITIES_WITHOUT_BEHAVIOUR are
 * accepted (and warned about at load) but never sent to the server.
 */
import { CAPABILITIES_WITHOUT_BEHAVIOUR, type ResolvedCapabilities } from "../config/schema.js";
import { AgentCapabilities } from "../opamp/codec.js";

const BITS: Record<keyof ResolvedCapabilities, AgentCapabilities> = {
  reportsEffectiveConfig: AgentCapabilities.AgentCapabilities_ReportsEffectiveConfig,
  reportsOwnMetrics: AgentCapabilities.AgentCapabilities_ReportsOwnMetrics,
  reportsOwnLogs: AgentCapabilities.AgentCapabilities_ReportsOwnLogs,
  reportsOwnTraces: AgentCapabilities.AgentCapabilities_ReportsOwnTraces,
  reportsHealth: AgentCapabilities.AgentCapabilities_ReportsHealth,
  acceptsRemoteConfig: AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig,
  reportsRemoteConfig: AgentCapabilities.AgentCapabilities_ReportsRemoteConfig,
  acceptsRestartCommand: AgentCapabilities.AgentCapabilities_AcceptsRestartCommand,
  acceptsOpampConnectionSettings: AgentCapabilities.AgentCapabilities_AcceptsOpAMPConnectionSettings,
  acceptsOtherConnectionSettings: AgentCapabilities.AgentCapabilities_AcceptsOtherConnectionSettings,
  reportsAvailableComponents: AgentCapabilities.AgentCapabilities_ReportsAvailableComponents,
  reportsHeartbeat: AgentCapabilities.AgentCapabilities_ReportsHeartbeat,
  acceptsPackages: AgentCapabilities.AgentCapabilities_AcceptsPackages,
  reportsPackageStatuses: AgentCapabilities.AgentCapabilities_ReportsPackageStatuses,
  reportsConnectionSettingsStatus: AgentCapabilities.AgentCapabilities_ReportsConnectionSettingsStatus,
};

/** supervisor.yaml spelling → ResolvedCapabilities key ("reports_own_metrics" → "reportsOwnMetrics"). */
function camel(key: string): keyof ResolvedCapabilities {
  return key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase()) as keyof ResolvedCapabilities;
}

const NOT_ADVERTISED: ReadonlySet<keyof ResolvedCapabilities> = new Set(CAPABILITIES_WITHOUT_BEHAVIOUR.map(camel));

export function capabilityBits(capabilities: ResolvedCapabilities): bigint {
  let bits = BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus);
  for (const key of Object.keys(BITS) as (keyof ResolvedCapabilities)[]) {
    if (capabilities[key] && !NOT_ADVERTISED.has(key)) bits |= BigInt(BITS[key]);
  }
  return bits;
}
