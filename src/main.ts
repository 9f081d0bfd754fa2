/**
 * Process-level wiring: the one AbortController, the only signal handlers, the test
 * checkpoint hook, and the mapping from errors to exit codes.
 */
import { loadSupervisorConfig } from "./config/load.js";
import type { ResolvedConfig } from "./config/schema.js";
import { createDefaultDeps } from "./deps.js";
import { preloadSpawner } from "./process/spawner.js";
import { ConfigError, SupervisorError } from "./errors.js";
import { Supervisor } from "./supervisor/supervisor.js";
import type { Checkpoint, SupervisorHooks } from "./supervisor/context.js";
import { createLogger } from "./telemetry/logger.js";

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
    process.stderr.write(`opamp-supervisor: invalid configuration ${err.path}:\n${err.problems.map((p) => `  - ${p}`).join("\n")}\n`);
    return undefined;
  }
}

export async function runSupervisor(configPath: string): Promise<number> {
  preloadSpawner(); // execa loads while the config is read
  const config = await loadConfigOrReport(configPath);
  if (!config) return 2;
  const logger = createLogger(config.telemetry.logs.level);
  const deps = createDefaultDeps({ logger });
  const shutdown = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      logger.info({ signal: name }, "stopping");
      shutdown.abort(new ShutdownRequested(name));
      return;
    }
    // A second signal means "now": the collector dies with us through its parent-death signal.
    logger.warn({ signal: name }, "second signal: exiting at once");
    process.exit(130);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    await new Supervisor({ config, deps, hooks: checkpointHook(process.env["OPAMP_SUPERVISOR_TEST_HALT_AT"]) }).run(shutdown.signal);
    return 0;
  } catch (err) {
    logger.error({ err, code: err instanceof SupervisorError ? err.code : undefined }, "supervisor failed");
    return exitCodeFor(err);
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
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
