/**
 * Process-level wiring: the one AbortController, the only signal handlers, the test
 * checkpoint hook, and the mapping from errors to exit codes.
 */
import { readFile } from "node:fs/promises";
import { destination } from "pino";
import { loadSupervisorConfig } from "./config/load.js";
import type { ResolvedConfig } from "./config/schema.js";
import { createDefaultDeps } from "./deps.js";
import type { Logger } from "./deps.js";
import { preloadSpawner } from "./process/spawner.js";
import { ConfigError, SupervisorError, unreachable } from "./errors.js";
import { Supervisor } from "./supervisor/supervisor.js";
import { initConfig } from "./supervisor/init-config.js";
import type { Checkpoint, SupervisorHooks } from "./supervisor/context.js";
import { createLogger } from "./telemetry/logger.js";
import { createGrowingMasker, createMasker, secretsOf } from "./telemetry/mask.js";
import { teeDestination } from "./telemetry/log-bridge.js";
import { noTelemetry, startTelemetry, type TelemetrySession } from "./telemetry/loader.js";
import { SUPERVISOR_VERSION } from "./version.js";

/** Exit codes: 0 clean stop, 1 runtime failure, 2 bad configuration or usage. */
export function exitCodeFor(err: unknown): number {
  return err instanceof ConfigError ? 2 : 1;
}

class ShutdownRequested extends Error {
  constructor(readonly signalName: string) {
    super(`received ${signalName}`);
  }
}

/** Loads and checks a supervisor.yaml; prints problems the way an operator reads them. */
export async function loadConfigOrReport(path: string): Promise<ResolvedConfig | undefined> {
  try {
    return await loadSupervisorConfig(path, { env: process.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(
      `opamp-supervisor: invalid configuration ${err.path}:\n${err.problems.map((p) => `  - ${p}`).join("\n")}\n`,
    );
    return undefined;
  }
}

/** What each signal the supervisor handles does. Every other signal keeps its default. */
export const SIGNAL_ACTIONS = {
  SIGTERM: "stop",
  SIGINT: "stop",
  // Re-read the local agent.config_files and apply a changed composition.
  SIGHUP: "reload",
  SIGUSR1: "ignore",
  SIGUSR2: "ignore",
  // A closed stdout or socket peer: the write fails with EPIPE where it is made; never fatal.
  SIGPIPE: "ignore",
} as const satisfies Partial<Record<NodeJS.Signals, "stop" | "reload" | "ignore">>;

export type HandledSignal = keyof typeof SIGNAL_ACTIONS;

/** The part of `process` the handlers attach to; tests pass an EventEmitter. */
export interface SignalSource {
  on(event: HandledSignal, listener: (name: NodeJS.Signals) => void): unknown;
  off(event: HandledSignal, listener: (name: NodeJS.Signals) => void): unknown;
}

export interface SignalHandlerOptions {
  logger: Logger;
  shutdown: AbortController;
  /** SIGHUP; default: log and ignore. */
  reload?: () => void;
  /** A second stop signal: exit at once. */
  exitNow: (code: number) => void;
  /** Milliseconds, for telling a duplicate delivery from a second request; default Date.now. */
  now?: () => number;
}

/**
 * The same stop signal again this soon is one request delivered twice, not a second one: in
 * a container that shares the pod's PID namespace the runtime signals every process of the
 * container, and the init (tini) forwards its copy too.
 */
export const DUPLICATE_SIGNAL_MS = 1_000;

/**
 * Installs the only signal handlers of the process and returns their removal. No handled
 * signal ends the supervisor silently: each one logs a line (SIGPIPE only its first, since a
 * broken pipe tends to repeat).
 */
export function installSignalHandlers(source: SignalSource, options: SignalHandlerOptions): () => void {
  const { logger, shutdown } = options;
  const now = options.now ?? Date.now;
  let first: { name: NodeJS.Signals; at: number } | undefined;
  let pipes = 0;
  const reload =
    options.reload ??
    ((): void =>
      logger.info(
        { signal: "SIGHUP" },
        "SIGHUP received: reloading the local configuration is not supported yet; ignored",
      ));
  const handler = (name: NodeJS.Signals): void => {
    const action = SIGNAL_ACTIONS[name as HandledSignal];
    switch (action) {
      case "stop":
        if (first === undefined) {
          first = { name, at: now() };
          logger.info({ signal: name }, "stopping");
          shutdown.abort(new ShutdownRequested(name));
          return;
        }
        if (name === first.name && now() - first.at < DUPLICATE_SIGNAL_MS) {
          logger.info({ signal: name }, "the same signal again at once (delivered twice); still stopping in order");
          return;
        }
        // A second signal means "now": the collector dies with us through its parent-death signal.
        logger.warn({ signal: name }, "second signal: exiting at once");
        options.exitNow(130);
        return;
      case "reload":
        reload();
        return;
      case "ignore":
        if (name === "SIGPIPE" && pipes++ > 0) return;
        logger.info({ signal: name }, `${name} received; ignored`);
        return;
      default:
        unreachable(action);
    }
  };
  const names = Object.keys(SIGNAL_ACTIONS) as HandledSignal[];
  for (const name of names) source.on(name, handler);
  return () => {
    for (const name of names) source.off(name, handler);
  };
}

/** How long the exit waits for the supervisor's own telemetry to flush. */
const TELEMETRY_FLUSH_MS = 5_000;

export async function runSupervisor(configPath: string): Promise<number> {
  preloadSpawner(); // execa loads while the config is read
  const config = await loadConfigOrReport(configPath);
  if (!config) return 2;
  // With telemetry.logs.processors every log line is also an OTLP log record.
  const tee = config.telemetry.logs.processors.length > 0 ? teeDestination(destination(1)) : undefined;
  // One masker for the log and the server: it learns the secrets the server offers later.
  const masker = createGrowingMasker(secretsOf(config));
  const logger = createLogger(config.telemetry.logs.level, tee?.destination, masker);
  for (const warning of config.warnings) logger.warn({ config: config.sourcePath }, warning);
  let telemetry: TelemetrySession;
  try {
    telemetry = await startTelemetry(config.telemetry, {
      version: SUPERVISOR_VERSION,
      readFile: (p) => readFile(p, "utf8"),
    });
  } catch (err) {
    logger.error(
      { err, code: err instanceof SupervisorError ? err.code : undefined },
      "cannot start the supervisor's own telemetry",
    );
    return exitCodeFor(err);
  }
  telemetry.attachLogger(logger);
  if (tee && telemetry.logSink) tee.attach(telemetry.logSink);
  if (telemetry !== noTelemetry) logger.debug("the OpenTelemetry SDK is loaded for the supervisor's own telemetry");
  const deps = createDefaultDeps({ logger });
  const shutdown = new AbortController();
  const supervisor = new Supervisor({
    config,
    deps,
    hooks: checkpointHook(process.env["OPAMP_SUPERVISOR_TEST_HALT_AT"]),
    masker,
    ...(telemetry !== noTelemetry ? { telemetry } : {}),
  });
  const uninstall = installSignalHandlers(process, {
    logger,
    shutdown,
    reload: () => {
      logger.info({ signal: "SIGHUP" }, "SIGHUP: reloading the local config files");
      supervisor.reloadLocalConfig();
    },
    exitNow: (code) => process.exit(code),
  });
  try {
    await supervisor.run(shutdown.signal);
    return 0;
  } catch (err) {
    logger.error({ err, code: err instanceof SupervisorError ? err.code : undefined }, "supervisor failed");
    return exitCodeFor(err);
  } finally {
    uninstall();
    // The last metrics, spans and log lines are flushed, but a backend that is away must not
    // hold the exit past a service manager's stop timeout.
    await Promise.race([
      telemetry.shutdown(),
      new Promise((resolve) => setTimeout(resolve, TELEMETRY_FLUSH_MS).unref()),
    ]);
  }
}

/** `init-config`: writes effective.yaml and exits; 2 on a bad supervisor.yaml or nothing to write. */
export async function runInitConfig(configPath: string): Promise<number> {
  const config = await loadConfigOrReport(configPath);
  if (!config) return 2;
  const logger = createLogger(config.telemetry.logs.level, undefined, createMasker(secretsOf(config)));
  for (const warning of config.warnings) logger.warn({ config: config.sourcePath }, warning);
  try {
    const written = await initConfig(config, createDefaultDeps({ logger }));
    logger.info(
      { path: written.path, source: written.source, run: config.agent.run },
      "init-config: wrote the collector config",
    );
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) process.stderr.write(`opamp-supervisor: init-config: ${err.message}\n`);
    logger.error({ err, code: err instanceof SupervisorError ? err.code : undefined }, "init-config failed");
    return exitCodeFor(err);
  }
}

/**
 * Test aid: OPAMP_SUPERVISOR_TEST_HALT_AT=<checkpoint> makes the supervisor SIGKILL itself
 * there, so crash-consistency tests can stop it between any two steps of a transaction.
 */
function checkpointHook(haltAt: string | undefined): SupervisorHooks {
  return {
    checkpoint(step: Checkpoint) {
      if (haltAt === step) process.kill(process.pid, "SIGKILL");
    },
  };
}
