/** supervisor.yaml capability switches → the AgentCapabilities bitmask. */
import type { ResolvedCapabilities } from "../config/schema.js";
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

export function capabilityBits(capabilities: ResolvedCapabilities): bigint {
  const on = (Object.keys(NAMES) as (keyof ResolvedCapabilities)[]).filter((key) => capabilities[key]);
  return agentCapabilityBits(on.map((key) => NAMES[key]));
}
