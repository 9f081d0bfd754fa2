import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadSupervisorConfig, resolveSupervisorConfig as resolveSupervisorConfigAt } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";
import { CONFIG_PATH, MINIMAL, configError, resolve, withAgent } from "./helpers.js";

describe("server.heartbeat_interval", () => {
  it("takes a duration, 0 included, and refuses other things naming the key", () => {
    const base = "agent:\n  executable: /bin/otelcol\nserver:\n  endpoint: http://127.0.0.1:4320/v1/opamp\n";
    expect(
      resolveSupervisorConfigAt(`${base}  heartbeat_interval: 5s\n`, "/etc/s.yaml", {}).server.heartbeatIntervalMs,
    ).toBe(5_000);
    expect(
      resolveSupervisorConfigAt(`${base}  heartbeat_interval: 0\n`, "/etc/s.yaml", {}).server.heartbeatIntervalMs,
    ).toBe(0);
    expect(() => resolveSupervisorConfigAt(`${base}  heartbeat_interval: often\n`, "/etc/s.yaml", {})).toThrow(
      /server\.heartbeat_interval/,
    );
  });
});

describe("resolveSupervisorConfig: defaults", () => {
  it("fills every default for a minimal file", () => {
    const config = resolve(MINIMAL);
    expect(config).toEqual({
      sourcePath: CONFIG_PATH,
      server: {
        endpoint: "ws://127.0.0.1:4320/v1/opamp",
        transport: "websocket",
        headers: {},
        heartbeatIntervalMs: 30_000,
        tls: {
          insecure: false,
          insecureSkipVerify: false,
          caFile: null,
          certFile: null,
          keyFile: null,
          caPem: null,
          certPem: null,
          keyPem: null,
          minVersion: "1.2",
          maxVersion: null,
          cipherSuites: [],
          curvePreferences: [],
          includeSystemCaCertsPool: false,
          serverNameOverride: null,
          renewBeforeMs: 2592000000,
          renewCheckIntervalMs: 86400000,
          renewRetryIntervalMs: 60000,
          watchFiles: true,
          connectionTrialTimeoutMs: 30000,
        },
        auth: null,
      },
      capabilities: {
        reportsEffectiveConfig: true,
        reportsOwnMetrics: false,
        reportsOwnLogs: false,
        reportsOwnTraces: false,
        reportsHealth: true,
        acceptsRemoteConfig: false,
        reportsRemoteConfig: false,
        acceptsRestartCommand: false,
        acceptsOpampConnectionSettings: false,
        acceptsOtherConnectionSettings: false,
        reportsAvailableComponents: false,
        reportsHeartbeat: true,
        acceptsPackages: false,
        reportsPackageStatuses: false,
        reportsConnectionSettingsStatus: false,
      },
      agent: {
        run: "child",
        executable: "/usr/bin/otelcol",
        sidecar: { validateExecutable: null, startTimeoutMs: 60_000 },
        args: [],
        env: {},
        configFiles: [],
        description: { identifyingAttributes: {}, nonIdentifyingAttributes: {}, includeResourceAttributes: false },
        instanceId: null,
        configApplyTimeoutMs: 5000,
        automaticConfigRollback: true,
        opampServerPort: 0,
        orphanDetectionIntervalMs: 5000,
        bootstrapTimeoutMs: 3000,
        useHupConfigReload: false,
        validateConfig: true,
        startupFallbackConfigs: [],
        passthroughLogs: false,
        collectorCrashLogSnippetKib: 4,
        stopTimeoutMs: 10000,
        health: {
          endpoint: "localhost:13133",
          path: "/",
          intervalMs: 1000,
          steadyIntervalMs: 10_000,
          window: 10,
          passesRequired: 5,
          requestTimeoutMs: 1000,
          injectExtension: true,
        },
        restart: { initialDelayMs: 250, maxDelayMs: 60000, multiplier: 2, jitter: 0.2, resetAfterMs: 60000 },
        package: {
          archive: "raw",
          agentBinary: null,
          publicKeys: [],
          insecureAcceptUnsignedPackages: false,
          maxSizeBytes: 1073741824,
          downloadTimeoutMs: 1800000,
          downloadIdleTimeoutMs: 60000,
          downloadAttempts: 3,
          maxRedirects: 5,
          progressIntervalMs: 1000,
        },
      },
      storage: { directory: "/var/lib/otelcol/supervisor", retryIntervalMs: 10_000 },
      telemetry: {
        logs: { level: "info", processors: [] },
        metrics: { level: "normal", readers: [] },
        traces: { level: "normal", processors: [] },
        resource: { attributes: {}, schemaUrl: null },
      },
      healthcheck: { endpoint: "" },
      warnings: [],
    });
  });

  it("returns a deeply frozen object", () => {
    const config = resolve(MINIMAL);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.agent.health)).toBe(true);
    expect(Object.isFrozen(config.agent.args)).toBe(true);
  });

  it("treats empty sections as absent", () => {
    const config = resolve(`${MINIMAL}capabilities:\nstorage:\n`);
    expect(config.capabilities.reportsHealth).toBe(true);
    expect(config.storage.directory).toBe("/var/lib/otelcol/supervisor");
  });

  it("reads every key when given", () => {
    const config = resolve(`
server:
  endpoint: https://opamp.example.com/v1/opamp
  headers:
    Authorization: Bearer abc
    X-Multi: [a, b]
  tls:
    insecure_skip_verify: true
    ca_file: certs/ca.pem
    cert_file: /abs/agent.pem
    key_file: agent.key
    min_version: "1.3"
    server_name_override: opamp.internal
    renew_before: 2160h
    renew_check_interval: 6h
    renew_retry_interval: 30s
    watch_files: false
    connection_trial_timeout: 10s
capabilities:
  accepts_remote_config: true
  reports_heartbeat: false
agent:
  executable: ./bin/otelcol
  args: [--feature-gates, x]
  env: {GOMAXPROCS: "2"}
  config_files: [base.yaml, $REMOTE_CONFIG, $OWN_TELEMETRY_CONFIG, $OPAMP_EXTENSION_CONFIG]
  description:
    identifying_attributes: {service.name: col}
    non_identifying_attributes: {host.name: h1}
  instance_id: 0190F5A8-2C3B-7D4E-8F01-23456789ABCD
  config_apply_timeout: 1m30s
  orphan_detection_interval: 2500
  bootstrap_timeout: 1.5s
  use_hup_config_reload: true
  validate_config: false
  startup_fallback_configs: [fallback.yaml]
  passthrough_logs: true
  collector_crash_log_snippet_kib: 0
  stop_timeout: 1h
  health: {endpoint: "[::1]:9000", path: /health, interval: 100ms, steady_interval: 2s, window: 3, passes_required: 3, request_timeout: 50ms, inject_extension: false}
  restart: {initial_delay: 0, max_delay: 5s, multiplier: 1.5, jitter: 0, reset_after: 10s}
storage:
  directory: state
telemetry:
  logs:
    level: debug
`);
    expect(config.server.transport).toBe("http");
    expect(config.server.headers).toEqual({ Authorization: "Bearer abc", "X-Multi": "a, b" });
    expect(config.server.tls).toEqual({
      insecure: false,
      insecureSkipVerify: true,
      caFile: "/etc/otelcol/certs/ca.pem",
      certFile: "/abs/agent.pem",
      keyFile: "/etc/otelcol/agent.key",
      caPem: null,
      certPem: null,
      keyPem: null,
      minVersion: "1.3",
      maxVersion: null,
      cipherSuites: [],
      curvePreferences: [],
      includeSystemCaCertsPool: false,
      serverNameOverride: "opamp.internal",
      renewBeforeMs: 2160 * 3_600_000,
      renewCheckIntervalMs: 6 * 3_600_000,
      renewRetryIntervalMs: 30_000,
      watchFiles: false,
      connectionTrialTimeoutMs: 10_000,
    });
    expect(config.capabilities.acceptsRemoteConfig).toBe(true);
    expect(config.capabilities.reportsHeartbeat).toBe(false);
    const agent = config.agent;
    expect(agent.executable).toBe("/etc/otelcol/bin/otelcol");
    expect(agent.args).toEqual(["--feature-gates", "x"]);
    expect(agent.env).toEqual({ GOMAXPROCS: "2" });
    expect(agent.configFiles).toEqual([
      "/etc/otelcol/base.yaml",
      "$REMOTE_CONFIG",
      "$OWN_TELEMETRY_CONFIG",
      "$OPAMP_EXTENSION_CONFIG",
    ]);
    expect(agent.description.identifyingAttributes).toEqual({ "service.name": "col" });
    expect(agent.instanceId).toBe("0190f5a8-2c3b-7d4e-8f01-23456789abcd");
    expect(agent.configApplyTimeoutMs).toBe(90_000);
    expect(agent.orphanDetectionIntervalMs).toBe(2500);
    expect(agent.bootstrapTimeoutMs).toBe(1500);
    expect(agent.stopTimeoutMs).toBe(3_600_000);
    expect(agent.startupFallbackConfigs).toEqual(["/etc/otelcol/fallback.yaml"]);
    expect(agent.collectorCrashLogSnippetKib).toBe(0);
    expect(agent.health).toEqual({
      endpoint: "[::1]:9000",
      path: "/health",
      intervalMs: 100,
      steadyIntervalMs: 2_000,
      window: 3,
      passesRequired: 3,
      requestTimeoutMs: 50,
      injectExtension: false,
    });
    expect(agent.restart).toEqual({
      initialDelayMs: 0,
      maxDelayMs: 5000,
      multiplier: 1.5,
      jitter: 0,
      resetAfterMs: 10_000,
    });
    expect(config.storage.directory).toBe("/etc/otelcol/state");
    expect(config.telemetry.logs.level).toBe("debug");
  });
});

describe("resolveSupervisorConfig: relative paths", () => {
  it("resolves against the config file's directory, not the working directory", () => {
    const config = resolveRelative("/opt/sup/conf/supervisor.yaml");
    expect(config.agent.executable).toBe("/opt/sup/fixtures/otelcol");
    expect(config.agent.configFiles).toEqual(["/opt/sup/conf/a.yaml", "/opt/sup/conf/sub/b.yaml", "$REMOTE_CONFIG"]);
    expect(config.agent.startupFallbackConfigs).toEqual(["/opt/sup/conf/fallback.yaml"]);
    expect(config.storage.directory).toBe("/opt/sup/.state");
    expect(config.server.tls.caFile).toBe("/opt/sup/conf/ca.pem");
  });

  function resolveRelative(file: string) {
    return resolveSupervisorConfigAt(
      `
server: {endpoint: "wss://h/v1/opamp", tls: {ca_file: ca.pem}}
agent:
  executable: ../fixtures/otelcol
  config_files: [a.yaml, ./sub/b.yaml, $REMOTE_CONFIG]
  startup_fallback_configs: [fallback.yaml]
storage: {directory: ../.state}
`,
      file,
      {},
    );
  }
});

describe("resolveSupervisorConfig: errors", () => {
  it("reports a ConfigError whose message starts with the file path", () => {
    const err = configError("server: {}\nagent: {}\n");
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.path).toBe(CONFIG_PATH);
    expect(err.message.startsWith(`${CONFIG_PATH}: `)).toBe(true);
    expect(err.problems).toEqual([
      "server.endpoint: is required (expected a string)",
      "agent.executable: is required (expected a string)",
    ]);
  });

  it("requires the server and agent sections", () => {
    expect(configError("storage: {directory: /x}\n").problems).toEqual([
      "server: is required (expected a map with endpoint)",
      "agent: is required (expected a map with executable)",
    ]);
  });

  it("rejects an empty file and a non-map top level", () => {
    expect(configError("").problems).toEqual(["the file is empty (expected a map with at least server and agent)"]);
    expect(configError("- a\n- b\n").problems).toEqual(["expected a map at the top level, got a list"]);
  });

  it("reports invalid YAML and duplicate keys", () => {
    expect(configError("server: [1\n").problems[0]).toMatch(/^invalid YAML: .*line/);
    expect(configError(`${MINIMAL}server: {}\n`).problems[0]).toMatch(/^invalid YAML: Map keys must be unique/);
  });

  it("reports unknown keys at every level with their path, collecting all of them", () => {
    const err = configError(`
server:
  endpoint: ws://h/v1/opamp
  endpont: x
  tls: {insecure: false, verify: true}
capabilities: {reports_health: true, reports_everything: true}
agent:
  exectuable: /x
  executable: /usr/bin/otelcol
  health: {endpoint: "localhost:1", checks: 3}
  restart: {initial_delay: 1s, backoff: 2}
  description: {identifying_attributes: {}, labels: {}}
storage: {directory: /x, mode: "0700"}
telemetry: {logs: {level: info, format: json}}
bogus: 1
`);
    expect(err.problems).toEqual([
      expect.stringMatching(
        /^bogus: unknown key \(expected one of: server, capabilities, agent, storage, telemetry, healthcheck, extensions\)$/,
      ),
      'server.endpont: unknown key (did you mean "endpoint"?)',
      expect.stringMatching(/^server\.tls\.verify: unknown key \(expected one of: insecure, /),
      expect.stringMatching(/^capabilities\.reports_everything: unknown key/),
      'agent.exectuable: unknown key (did you mean "executable"?)',
      expect.stringMatching(/^agent\.description\.labels: unknown key/),
      expect.stringMatching(/^agent\.health\.checks: unknown key/),
      expect.stringMatching(/^agent\.restart\.backoff: unknown key/),
      "storage.mode: unknown key (expected one of: directory, retry_interval)",
      "telemetry.logs.format: unknown key (expected one of: level, output_paths, error_output_paths, processors)",
    ]);
  });

  it("gives advice for keys of older Go releases that current ones renamed or removed", () => {
    const err = configError(`
server: {endpoint: "ws://h"}
agent:
  executable: /x
  fallback_configs: [a.yaml]
  health_check_port: 13133
`);
    expect(err.problems).toEqual([
      'agent.fallback_configs: renamed: use "startup_fallback_configs"',
      expect.stringMatching(/^agent\.health_check_port: .*agent\.health\.endpoint/),
    ]);
  });

  it("reports every wrong type with the path, the expectation and what was seen", () => {
    const err = configError(`
server:
  endpoint: 42
  headers: [a]
  tls: {insecure: "yes", ca_file: [x], min_version: 1.4}
capabilities: {reports_health: 1}
agent:
  executable: {path: /x}
  args: --verbose
  env: {PORT: 8080}
  config_files: [a.yaml, 3]
  description: {identifying_attributes: {service.name: true}}
  instance_id: not-a-uuid
  config_apply_timeout: fast
  use_hup_config_reload: "true"
  collector_crash_log_snippet_kib: -1
  health: {window: 2.5, interval: 10, path: health, endpoint: "localhost"}
  restart: {multiplier: 0.5, jitter: 2}
storage: {directory: 7}
telemetry: {logs: {level: verbose}}
`);
    expect(err.problems).toEqual([
      "server.endpoint: expected a string, got number 42 (quote the value to make it a string)",
      "server.headers: expected a map of header name to value, got a list",
      'server.tls.insecure: expected true or false, got string "yes"',
      "server.tls.ca_file: expected a string, got a list",
      'server.tls.min_version: expected one of "1.0", "1.1", "1.2", "1.3", got number 1.4',
      "capabilities.reports_health: expected true or false, got number 1",
      "agent.executable: expected a string, got a map",
      'agent.instance_id: expected a UUID such as "0190f5a8-2c3b-7d4e-8f01-23456789abcd", got "not-a-uuid"',
      'agent.args: expected a list of strings, got string "--verbose"',
      "agent.env.PORT: expected a string, got a number (quote the value to make it a string)",
      "agent.config_files[1]: expected a string, got number 3 (quote the value to make it a string)",
      'agent.description.identifying_attributes["service.name"]: expected a string, got boolean true (quote the value to make it a string)',
      expect.stringMatching(/^agent\.config_apply_timeout: invalid duration "fast" .*; got string "fast"$/),
      'agent.use_hup_config_reload: expected true or false, got string "true"',
      "agent.collector_crash_log_snippet_kib: expected an integer from 0 to 1024, got number -1",
      'agent.health.endpoint: expected host:port (e.g. "localhost:13133"), got "localhost"',
      'agent.health.path: expected a path starting with "/", got "health"',
      "agent.health.window: expected an integer ≥ 1, got number 2.5",
      "agent.restart.multiplier: expected a number ≥ 1, got number 0.5",
      "agent.restart.jitter: expected a number from 0 to 1, got number 2",
      "storage.directory: expected a string, got number 7 (quote the value to make it a string)",
      'telemetry.logs.level: expected one of debug, info, warn, error, dpanic, panic, fatal (any case), got string "verbose"',
    ]);
  });

  it("rejects bad endpoints", () => {
    const problem = (endpoint: string) =>
      configError(`server: {endpoint: "${endpoint}"}\nagent: {executable: /x}\n`).problems[0];
    expect(problem("ftp://h/x")).toBe('server.endpoint: expected a ws, wss, http or https URL, got scheme "ftp"');
    expect(problem("not a url")).toBe(
      'server.endpoint: expected a ws://, wss://, http:// or https:// URL, got "not a url"',
    );
    expect(problem("wss://user:pw@h/x")).toMatch(/^server\.endpoint: credentials in the URL are not allowed/);
    expect(problem("")).toBe("server.endpoint: must not be empty");
  });

  it("never echoes header or env values", () => {
    const err = configError(`
server: {endpoint: "ws://h", headers: {X-Token: 123456, "bad name": a, X-Ok: "a\\r\\nb"}}
agent: {executable: /x, env: {SECRET: 987654, "A=B": x}}
`);
    expect(err.message).not.toMatch(/123456|987654/);
    expect(err.problems).toEqual([
      "server.headers.X-Token: expected a string, got a number (quote the value to make it a string)",
      expect.stringMatching(/^server\.headers\["bad name"\]: invalid header name/),
      "server.headers.X-Ok: header value must not contain CR, LF or NUL",
      "agent.env.SECRET: expected a string, got a number (quote the value to make it a string)",
      'agent.env["A=B"]: invalid environment variable name',
    ]);
  });

  it("requires cert_file and key_file together", () => {
    const err = configError(`server: {endpoint: "wss://h", tls: {cert_file: a.pem}}\nagent: {executable: /x}\n`);
    expect(err.problems).toEqual(["server.tls: cert_file and key_file must be given together"]);
  });

  it("rejects unknown and repeated config_files tokens and tokens among fallback configs", () => {
    const err = configError(
      withAgent(`
config_files: [$REMOTE_CONFIG, $REMOTE_CONFIG, $HOME/x.yaml]
startup_fallback_configs: [$REMOTE_CONFIG]
`),
    );
    expect(err.problems).toEqual([
      "agent.config_files[1]: $REMOTE_CONFIG is listed more than once",
      expect.stringMatching(
        /^agent\.config_files\[2\]: unknown token "\$HOME\/x\.yaml" \(expected a file path or one of \$REMOTE_CONFIG/,
      ),
      expect.stringMatching(/^agent\.startup_fallback_configs\[0\]: expected a file path, got "\$REMOTE_CONFIG"/),
    ]);
  });

  it("rejects passes_required greater than window", () => {
    const err = configError(withAgent("health: {window: 3, passes_required: 4}"));
    expect(err.problems).toEqual(["agent.health.passes_required: must be ≤ agent.health.window (3), got 4"]);
    expect(resolve(withAgent("health: {window: 4, passes_required: 4}")).agent.health.passesRequired).toBe(4);
  });

  it("rejects max_delay below initial_delay and zero timeouts", () => {
    const err = configError(withAgent("restart: {initial_delay: 2s, max_delay: 1s}\nstop_timeout: 0"));
    expect(err.problems).toEqual([
      "agent.stop_timeout: expected a duration greater than 0, got number 0",
      "agent.restart.max_delay: must be ≥ agent.restart.initial_delay (2000ms), got 1000ms",
    ]);
  });

  it("rejects YAML alias bombs", () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(", ")}]`);
    }
    const err = configError(`${MINIMAL}${levels.join("\n")}\n`);
    expect(err.problems).toEqual([expect.stringMatching(/^invalid YAML: Excessive alias count/)]);
  });

  it("allows ordinary anchors and merge keys", () => {
    const config = resolve(`
server: {endpoint: "ws://h", headers: &h {X-A: "1"}}
agent:
  executable: /x
  description:
    identifying_attributes: *h
    non_identifying_attributes: {<<: *h, X-B: "2"}
`);
    expect(config.agent.description.nonIdentifyingAttributes).toEqual({ "X-A": "1", "X-B": "2" });
  });
});

describe("loadSupervisorConfig", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("reads the file and resolves paths against its directory", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "config-load-"));
    const file = path.join(dir, "supervisor.yaml");
    await mkdir(path.join(dir, "bin"));
    await writeFile(path.join(dir, "bin/otelcol"), "#!/bin/sh\n", { mode: 0o755 });
    await writeFile(
      file,
      "server:\n  endpoint: ${env:EP}\nagent: {executable: bin/otelcol}\nstorage: {directory: state}\n",
    );
    const config = await loadSupervisorConfig(file, { env: { EP: "ws://127.0.0.1:1/v1/opamp" } });
    expect(config.sourcePath).toBe(file);
    expect(config.agent.executable).toBe(path.join(dir, "bin/otelcol"));
    expect(config.server.endpoint).toBe("ws://127.0.0.1:1/v1/opamp");
  });

  it("turns an unreadable file into a ConfigError naming the file", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "config-load-"));
    const file = path.join(dir, "missing.yaml");
    const err = await loadSupervisorConfig(file, { env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe(`${file}: cannot read the file (ENOENT)`);
  });
});

describe("agent.health.steady_interval", () => {
  it("is never faster than the interval", () => {
    expect(resolve(withAgent("health: {interval: 20s}")).agent.health.steadyIntervalMs).toBe(20_000);
    expect(configError(withAgent("health: {interval: 2s, steady_interval: 1s}")).problems).toEqual([
      "agent.health.steady_interval: must be ≥ agent.health.interval (2000 ms), got 1000 ms",
    ]);
  });
});
