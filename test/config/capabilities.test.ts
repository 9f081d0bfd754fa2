import { describe, expect, it } from "vitest";
import { AgentCapabilities } from "../../src/gen/opamp_pb.js";
import { capabilityBits } from "../../src/supervisor/capabilities.js";
import { CAPABILITY_DEFAULTS } from "../../src/config/schema.js";
import { MINIMAL, resolve } from "./helpers.js";

const all = Object.keys(CAPABILITY_DEFAULTS)
  .map((key) => `  ${key}: true`)
  .join("\n");
const trustKey = "agent:\n  package:\n    verifier:\n      insecure_accept_unsigned_packages: true\n";

describe("capabilityBits", () => {
  it("advertises only capabilities whose behaviour exists", () => {
    const config = resolve(`${MINIMAL.replace("agent:\n", trustKey)}capabilities:\n${all}\n`);
    const bits = capabilityBits(config.capabilities);
    const has = (bit: AgentCapabilities): boolean => (bits & BigInt(bit)) !== 0n;
    const A = AgentCapabilities;
    for (const bit of [
      A.AgentCapabilities_ReportsStatus,
      A.AgentCapabilities_ReportsEffectiveConfig,
      A.AgentCapabilities_ReportsHealth,
      A.AgentCapabilities_AcceptsRemoteConfig,
      A.AgentCapabilities_ReportsRemoteConfig,
      A.AgentCapabilities_AcceptsRestartCommand,
      A.AgentCapabilities_AcceptsOpAMPConnectionSettings,
      A.AgentCapabilities_ReportsHeartbeat,
      A.AgentCapabilities_AcceptsPackages,
      A.AgentCapabilities_ReportsPackageStatuses,
      A.AgentCapabilities_ReportsConnectionSettingsStatus,
      A.AgentCapabilities_ReportsOwnMetrics,
      A.AgentCapabilities_ReportsOwnLogs,
      A.AgentCapabilities_ReportsOwnTraces,
    ]) {
      expect(has(bit), A[bit]).toBe(true);
    }
    for (const bit of [
      A.AgentCapabilities_ReportsAvailableComponents,
      A.AgentCapabilities_AcceptsOtherConnectionSettings,
    ]) {
      expect(has(bit), A[bit]).toBe(false);
    }
    expect(config.warnings.filter((w) => w.startsWith("capabilities."))).toEqual([
      expect.stringMatching(/^capabilities\.accepts_other_connection_settings: /),
    ]);
  });

  it("advertises ReportsAvailableComponents only once the collector's inventory is known", () => {
    const bit = BigInt(AgentCapabilities.AgentCapabilities_ReportsAvailableComponents);
    const on = resolve(`${MINIMAL}capabilities:\n  reports_available_components: true\n`).capabilities;
    expect(capabilityBits(on) & bit).toBe(0n);
    expect(capabilityBits(on, { availableComponents: false }) & bit).toBe(0n);
    expect(capabilityBits(on, { availableComponents: true }) & bit).toBe(bit);
    expect(capabilityBits(resolve(MINIMAL).capabilities, { availableComponents: true }) & bit).toBe(0n);
  });

  it("advertises status, effective config, health and heartbeat by default (Go also defaults reports_own_metrics to true; here it is off until asked for)", () => {
    const A = AgentCapabilities;
    expect(capabilityBits(resolve(MINIMAL).capabilities)).toBe(
      BigInt(
        A.AgentCapabilities_ReportsStatus |
          A.AgentCapabilities_ReportsEffectiveConfig |
          A.AgentCapabilities_ReportsHealth |
          A.AgentCapabilities_ReportsHeartbeat,
      ),
    );
  });
});
