import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import {
  AgentCapabilities,
  AgentRemoteConfigSchema,
  CommandType,
  ConnectionSettingsOffersSchema,
  ConnectionSettingsStatuses,
  PackageStatusEnum,
  RemoteConfigStatuses,
  ServerCapabilities,
  ServerToAgentCommandSchema,
} from "../../src/gen/opamp_pb.js";
import {
  agentCapabilityBits,
  commandFromWire,
  connectionSettingsFromWire,
  hasServerCapability,
  remoteConfigFromWire,
  statusToWire,
} from "../../src/opamp/convert.js";

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("server to agent", () => {
  it("turns a remote config into its hash and files", () => {
    const rc = create(AgentRemoteConfigSchema, {
      configHash: new Uint8Array([1, 2]),
      config: { configMap: { "a.yaml": { body: text("x: 1"), contentType: "text/yaml" } } },
    });
    expect(remoteConfigFromWire(rc)).toEqual({
      hash: new Uint8Array([1, 2]),
      configMap: { "a.yaml": { body: text("x: 1"), contentType: "text/yaml" } },
    });
    expect(
      remoteConfigFromWire(create(AgentRemoteConfigSchema, { configHash: new Uint8Array([3]) })).configMap,
    ).toEqual({});
  });

  it("decodes an OpAMP connection settings offer to text, with absent parts undefined", () => {
    const offer = create(ConnectionSettingsOffersSchema, {
      hash: new Uint8Array([9]),
      opamp: {
        destinationEndpoint: "wss://new.example/v1/opamp",
        headers: { headers: [{ key: "Authorization", value: "Bearer t" }] },
        certificate: { cert: text("CERT"), privateKey: text("KEY"), caCert: new Uint8Array(0) },
        heartbeatIntervalSeconds: 15n,
        proxy: { url: "http://proxy:3128" },
      },
    });
    expect(connectionSettingsFromWire(offer)).toEqual({
      hash: new Uint8Array([9]),
      opamp: {
        endpoint: "wss://new.example/v1/opamp",
        headers: [{ key: "Authorization", value: "Bearer t" }],
        certificate: { certPem: "CERT", keyPem: "KEY", caPem: "" },
        tls: undefined,
        hasProxy: true,
        heartbeatIntervalSeconds: 15,
      },
    });
    expect(
      connectionSettingsFromWire(create(ConnectionSettingsOffersSchema, { hash: new Uint8Array([1]) })).opamp,
    ).toBeUndefined();
  });

  it("knows the restart command and nothing else", () => {
    expect(commandFromWire(create(ServerToAgentCommandSchema, { type: CommandType.CommandType_Restart }))).toEqual({
      kind: "restart",
    });
    expect(commandFromWire(create(ServerToAgentCommandSchema, { type: 7 as CommandType }))).toBeUndefined();
  });
});

describe("agent to server", () => {
  it("sorts description attributes by key and keeps their types", () => {
    const wire = statusToWire("agentDescription", {
      identifying: { "service.name": "otelcol", b: true },
      nonIdentifying: { n: 3, d: 1.5 },
    });
    expect(wire.identifyingAttributes.map((kv) => kv.key)).toEqual(["b", "service.name"]);
    expect(wire.identifyingAttributes.map((kv) => kv.value?.value)).toEqual([
      { case: "boolValue", value: true },
      { case: "stringValue", value: "otelcol" },
    ]);
    expect(wire.nonIdentifyingAttributes.map((kv) => kv.value?.value)).toEqual([
      { case: "doubleValue", value: 1.5 },
      { case: "intValue", value: 3n },
    ]);
  });

  it("reports health in nanoseconds, 0 as the start of a component that is not running, components nested", () => {
    const wire = statusToWire("health", {
      healthy: false,
      startedAtMs: undefined,
      observedAtMs: 2,
      status: "StatusFatalError",
      lastError: "exit 1",
      components: {
        "pipeline:traces": { healthy: true, startedAtMs: 1, observedAtMs: 2, status: "StatusOK", lastError: "" },
      },
    });
    expect(wire.startTimeUnixNano).toBe(0n);
    expect(wire.statusTimeUnixNano).toBe(2_000_000n);
    expect(wire.componentHealthMap["pipeline:traces"]?.startTimeUnixNano).toBe(1_000_000n);
  });

  it("maps apply statuses to each message's own enum", () => {
    const status = { hash: new Uint8Array([1]), status: "FAILED" as const, errorMessage: "why" };
    expect(statusToWire("remoteConfigStatus", status)).toMatchObject({
      lastRemoteConfigHash: new Uint8Array([1]),
      status: RemoteConfigStatuses.RemoteConfigStatuses_FAILED,
      errorMessage: "why",
    });
    expect(statusToWire("connectionSettingsStatus", { ...status, status: "APPLYING" })).toMatchObject({
      lastConnectionSettingsHash: new Uint8Array([1]),
      status: ConnectionSettingsStatuses.ConnectionSettingsStatuses_APPLYING,
    });
  });

  it("sends download details only when given", () => {
    const pkg = {
      name: "otelcol",
      agentHasVersion: "1",
      agentHasHash: new Uint8Array(0),
      serverOfferedVersion: "2",
      serverOfferedHash: new Uint8Array([2]),
      errorMessage: "",
    };
    const wire = statusToWire("packageStatuses", {
      serverProvidedAllPackagesHash: new Uint8Array([5]),
      errorMessage: "",
      packages: {
        otelcol: { ...pkg, status: "DOWNLOADING", download: { percent: 50, bytesPerSecond: 10 } },
        other: { ...pkg, name: "other", status: "INSTALLED" },
      },
    });
    expect(wire.packages["otelcol"]).toMatchObject({
      status: PackageStatusEnum.PackageStatusEnum_Downloading,
      downloadDetails: { downloadPercent: 50, downloadBytesPerSecond: 10 },
    });
    expect(wire.packages["other"]?.downloadDetails).toBeUndefined();
  });
});

describe("capabilities", () => {
  it("always includes ReportsStatus and sets one bit per name", () => {
    expect(agentCapabilityBits([])).toBe(BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus));
    expect(agentCapabilityBits(["acceptsRemoteConfig", "reportsHeartbeat"])).toBe(
      BigInt(
        AgentCapabilities.AgentCapabilities_ReportsStatus |
          AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig |
          AgentCapabilities.AgentCapabilities_ReportsHeartbeat,
      ),
    );
    const bits = BigInt(
      ServerCapabilities.ServerCapabilities_AcceptsStatus |
        ServerCapabilities.ServerCapabilities_AcceptsConnectionSettingsRequest,
    );
    expect(hasServerCapability(bits, "acceptsConnectionSettingsRequest")).toBe(true);
    expect(hasServerCapability(bits, "offersPackages")).toBe(false);
  });
});
