/**
 * Keys a current official Go supervisor accepts: every one loads here, and the ones without
 * behaviour yet produce exactly one warning naming the key (never a refusal).
 */
import { describe, expect, it } from "vitest";
import { MINIMAL, configError, resolve, withAgent } from "./helpers.js";

const base = (extra: string): string => `${MINIMAL}${extra}`;

describe("Go keys without behaviour here: one warning each, naming the key", () => {
  it.each([
    ["agent.opamp_server_port", withAgent("opamp_server_port: 4321")],
    ["agent.orphan_detection_interval", withAgent("orphan_detection_interval: 10s")],
    ["agent.bootstrap_timeout", withAgent("bootstrap_timeout: 5s")],
    ["telemetry.logs.output_paths", base("telemetry: {logs: {output_paths: [/var/log/sup.log]}}\n")],
    ["telemetry.logs.error_output_paths", base("telemetry: {logs: {error_output_paths: [stdout]}}\n")],
    ["server.tls.reload_interval", MINIMAL.replace("server:\n", "server:\n  tls: {reload_interval: 1m}\n")],
    [
      "server.tls.cipher_suites",
      MINIMAL.replace("server:\n", "server:\n  tls: {cipher_suites: [TLS_AES_128_GCM_SHA256]}\n"),
    ],
    ["server.tls.curve_preferences", MINIMAL.replace("server:\n", "server:\n  tls: {curve_preferences: [X25519]}\n")],
    ["server.tls.min_version", MINIMAL.replace("server:\n", 'server:\n  tls: {min_version: "1.0"}\n')],
    [
      "capabilities.accepts_other_connection_settings",
      base("capabilities: {accepts_other_connection_settings: true}\n"),
    ],
  ])("%s", (key, text) => {
    const config = resolve(text);
    expect(config.warnings).toHaveLength(1);
    expect(config.warnings[0]?.startsWith(`${key}: `)).toBe(true);
  });

  it("says nothing for values that are what happens here anyway", () => {
    const config = resolve(
      base(`telemetry:
  logs: {level: INFO, output_paths: [stdout], error_output_paths: [stderr], processors: []}
  metrics: {level: none}
  traces: {}
  resource: {}
healthcheck: {endpoint: localhost}
capabilities: {reports_own_metrics: false, reports_remote_config: true}
`).replace("agent:\n", "agent:\n  automatic_config_rollback: true\n"),
    );
    expect(config.warnings).toEqual([]);
  });

  it("keeps the values it accepts in the resolved config", () => {
    const config = resolve(
      withAgent(
        "opamp_server_port: 4321\nautomatic_config_rollback: false\ndescription: {include_resource_attributes: true}",
      ),
    );
    expect(config.agent).toMatchObject({
      opampServerPort: 4321,
      automaticConfigRollback: false,
      description: { includeResourceAttributes: true },
    });
  });

  it("still checks the shapes of accepted keys", () => {
    const err = configError(
      base(`telemetry:
  logs: {processors: {batch: {}}}
  metrics: {level: loud, readerz: []}
  resource: [a]
healthcheck: {endpoint: "localhost:99999"}
`).replace("agent:\n", "agent:\n  opamp_server_port: 70000\n  automatic_config_rollback: maybe\n"),
    );
    expect(err.problems).toEqual([
      'agent.automatic_config_rollback: expected true or false, got string "maybe"',
      "agent.opamp_server_port: expected an integer from 0 to 65535, got number 70000",
      "telemetry.logs.processors: expected a list, got a map",
      expect.stringMatching(/^telemetry\.metrics\.readerz: unknown key/),
      'telemetry.metrics.level: expected one of none, basic, normal, detailed, got string "loud"',
      "telemetry.resource: expected a map, got a list",
      'healthcheck.endpoint: expected a port from 0 to 65535, got "localhost:99999"',
    ]);
  });
});

describe("telemetry.logs.level", () => {
  it.each([
    ["DEBUG", "debug"],
    ["Info", "info"],
    ["WARN", "warn"],
    ["error", "error"],
    ["dpanic", "error"],
    ["PANIC", "error"],
    ["fatal", "error"],
    ['""', "info"],
  ])("reads zap's %s as %s", (written, level) => {
    expect(resolve(base(`telemetry: {logs: {level: ${written}}}\n`)).telemetry.logs.level).toBe(level);
  });
});

describe("server.tls versions", () => {
  const tls = (line: string) => MINIMAL.replace("server:\n", `server:\n  tls: {${line}}\n`);
  it("raises 1.0 and 1.1 to this supervisor's floor of 1.2, and reads unquoted versions", () => {
    expect(resolve(tls('min_version: "1.1"')).server.tls.minVersion).toBe("1.2");
    expect(resolve(tls("min_version: 1.3")).server.tls.minVersion).toBe("1.3");
    expect(resolve(tls('max_version: "1.3"')).server.tls.maxVersion).toBe("1.3");
    expect(resolve(tls('max_version: "1.3"')).warnings).toEqual([]);
  });

  it("honours max_version 1.2, raises 1.0/1.1 to it, and refuses a maximum below the minimum", () => {
    expect(resolve(tls('max_version: "1.2"')).server.tls.maxVersion).toBe("1.2");
    expect(resolve(tls('max_version: "1.2"')).warnings).toEqual([]);
    const raised = resolve(tls('max_version: "1.1"'));
    expect(raised.server.tls.maxVersion).toBe("1.2");
    expect(raised.warnings).toEqual([expect.stringMatching(/^server\.tls\.max_version: "1\.1" is raised to "1\.2"/)]);
    expect(configError(tls('min_version: "1.3", max_version: "1.2"')).problems).toEqual([
      'server.tls.max_version: "1.2" is below min_version "1.3": no connection could be made',
    ]);
  });
});

describe("capabilities", () => {
  it("implies reports_remote_config from accepts_remote_config, as Go does since v0.161", () => {
    expect(resolve(base("capabilities: {accepts_remote_config: true}\n")).capabilities.reportsRemoteConfig).toBe(true);
    expect(resolve(base("capabilities: {accepts_remote_config: false}\n")).capabilities.reportsRemoteConfig).toBe(
      false,
    );
    expect(resolve(base("capabilities: {reports_remote_config: true}\n")).capabilities.reportsRemoteConfig).toBe(true);
  });
});

describe("unknown keys are still refused", () => {
  it("names the key path", () => {
    expect(configError(base("telemetry: {logs: {levle: info}}\n")).problems).toEqual([
      expect.stringMatching(/^telemetry\.logs\.levle: unknown key \(did you mean "level"\?\)/),
    ]);
    expect(configError(base("healthchecks: {}\n")).problems).toEqual([
      expect.stringMatching(/^healthchecks: unknown key/),
    ]);
  });
});

describe("agent.config_files entries as Go's confmap URIs", () => {
  it("reads file:/path as the path and refuses other schemes by name", () => {
    expect(resolve(withAgent("config_files: [file:/etc/otelcol/a.yaml, file:b.yaml]")).agent.configFiles).toEqual([
      "/etc/otelcol/a.yaml",
      "/etc/otelcol/b.yaml",
    ]);
    expect(configError(withAgent("config_files: [env:COLLECTOR_CONFIG]")).problems).toEqual([
      'agent.config_files[0]: "env" URIs are not supported here: give a file path (or file:/path)',
    ]);
  });
});
