/**
 * The orchestrator. Starts the collector with the best config it has, connects to the
 * OpAMP server, turns server messages into queued operations and collector facts into
 * status reports, and shuts everything down in order when its signal aborts.
 *
 *   start: state dir → reap leftover collector → identity → version → status from disk
 *          → effective config → collector → health monitor → OpAMP client
 *   run:   client events ──▶ OperationQueue (one at a time) ──▶ transactions
 *   stop:  queue closed → collector stopped (SIGTERM, deadline, SIGKILL) → agent_disconnect
 */
import { basename } from "node:path";
import { CollectorController } from "../collector/controller.js";
import { driverFor } from "../collector/drivers/select.js";
import type { ResolvedConfig } from "../config/schema.js";
import { ConfigError } from "../errors.js";
import type { Deps, Logger } from "../deps.js";
import { ConnectionSettings } from "../connection/index.js";
import type { ServerTarget } from "../connection/index.js";
import { OpampClient } from "../opamp/client.js";
import { reapLeftover } from "../process/index.js";
import { AuditLog, StateStore, openStateDir, uidToText } from "../storage/index.js";
import type { StoredRemoteConfig } from "../storage/index.js";
import { capabilityBits } from "./capabilities.js";
import type { SupervisorContext, SupervisorHooks } from "./context.js";
import { buildDescription } from "./description.js";
import { OperationQueue } from "./queue.js";
import { listenForPackages, preparePackages } from "./packages.js";
import { reloadLocalConfig } from "./local-reload.js";
import { applyRemoteConfig } from "./remote-config.js";
import { StatusReporter } from "./reporter.js";
import { createMasker, secretsOf } from "../telemetry/mask.js";
import { loadInstanceUid, settleRemoteConfigStatus } from "./startup.js";

export interface SupervisorOptions {
  config: ResolvedConfig;
  deps: Deps;
  hooks?: SupervisorHooks;
}

const noHooks: SupervisorHooks = { checkpoint: () => undefined };

export class Supervisor {
  readonly #config: ResolvedConfig;
  readonly #deps: Deps;
  readonly #hooks: SupervisorHooks;
  readonly #logger: Logger;
  /** Set once the operation queue runs; before that a SIGHUP has nothing to reload into. */
  #reload: (() => void) | undefined;

  /** SIGHUP: re-read the local config files and apply a changed composition (queued). */
  reloadLocalConfig(): void {
    if (this.#reload) this.#reload();
    else this.#logger.info("SIGHUP before the supervisor finished starting: the local config is read at start anyway");
  }

  constructor(options: SupervisorOptions) {
    this.#config = options.config;
    this.#deps = options.deps;
    this.#hooks = options.hooks ?? noHooks;
    this.#logger = options.deps.logger.child({ component: "supervisor" });
  }

  /** Runs until `signal` aborts, then shuts down in order. */
  async run(signal: AbortSignal): Promise<void> {
    const config = this.#config;
    const deps = this.#deps;
    const logger = this.#logger;
    const stateDir = await openStateDir(config.storage.directory, { logger: deps.logger });
    await reapLeftover(stateDir, { clock: deps.clock, logger: deps.logger });
    const audit = new AuditLog({ path: stateDir.file("audit.log"), clock: deps.clock, logger: deps.logger });
    const store = new StateStore({ dir: stateDir, clock: deps.clock, logger: deps.logger, audit });
    const instanceUid = await loadInstanceUid(config, store);
    const connection = await ConnectionSettings.open({ config, deps, stateDir, store, audit });
    // The client does nothing on the network before start().
    const client = new OpampClient<ServerTarget>({
      heartbeatIntervalMs: config.server.heartbeatIntervalMs,
      ...connection.initialOptions(), // an interval the server offered before wins
      instanceUid,
      capabilities: capabilityBits(config.capabilities),
      deps: { ...deps, logger: deps.logger.child({ component: "opamp" }) },
    });
    const reporter = new StatusReporter(client, config.capabilities, store, createMasker(secretsOf(config)));
    let version = "unknown";
    let serviceName = basename(config.agent.executable).replace(/\.[cm]?js$/, "");
    let describe: (uid: Uint8Array) => void = () => undefined;
    const collector = new CollectorController({
      config,
      deps,
      stateDir,
      signal,
      driver: driverFor(config, stateDir, deps, signal),
      onHealth: (health) => reporter.health(health),
      onVersion: (installed) => {
        version = installed;
        describe(client.instanceUid);
      },
    });
    // Before the version is read and the collector starts: an interrupted upgrade is settled first.
    const packages = await preparePackages({ config, deps, store, audit, hooks: this.#hooks, collector, client, signal, mask: (text) => reporter.mask(text) });
    // Read while the collector starts; the description waits for it, the collector does not.
    const versionRead = collector.version().then(
      (info) => {
        version = info.version;
        // The name the collector gives itself in `--version` is its service.name in its own telemetry.
        serviceName = info.name ?? serviceName;
      },
      (err: unknown) => logger.warn({ err }, "could not read the collector version"),
    );
    const ctx: SupervisorContext = { config, deps, logger, stateDir, store, audit, collector, reporter, hooks: this.#hooks, signal };

    describe = (uid: Uint8Array): void =>
      reporter.description(
        buildDescription({
          serviceName,
          serviceVersion: version,
          instanceUid: uidToText(uid),
          identifying: config.agent.description.identifyingAttributes,
          nonIdentifying: config.agent.description.nonIdentifyingAttributes,
        }),
      );
    const { status, working } = await settleRemoteConfigStatus(store, audit);
    if (status) reporter.restoreRemoteConfigStatus(status);
    await this.#startCollector(ctx, working);
    await versionRead;
    describe(instanceUid);

    const queue = new OperationQueue({ logger, clock: deps.clock, signal, defaultDeadlineMs: operationDeadlineMs(config) });
    this.#listen(ctx, client, queue, describe);
    this.#reload = () => void queue.enqueue("local-config-reload", (opSignal) => reloadLocalConfig(ctx, opSignal));
    connection.attach(client, queue, signal);
    listenForPackages({ config, deps, client, queue, packages });
    client.start();
    const monitoring = collector.run(signal);
    logger.info({ endpoint: config.server.endpoint, instanceUid: uidToText(instanceUid), version, run: config.agent.run }, `supervisor started (agent.run: ${config.agent.run})`);

    // A stop requested while starting up is honoured here too.
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    logger.info({ reason: String(signal.reason) }, "shutting down");
    await queue.close();
    await connection.close();
    await collector.close();
    await monitoring;
    await client.close(AbortSignal.timeout(5_000));
    logger.info("supervisor stopped");
  }

  /** Runs the last working config, else the startup fallbacks, else the local files. */
  async #startCollector(ctx: SupervisorContext, working: StoredRemoteConfig | undefined): Promise<void> {
    const composed = await ctx.collector.composeFallback(working);
    if (!composed.ok) throw new ConfigError("collector config", [composed.message]);
    const { composition } = composed;
    for (const warning of composition.warnings) this.#logger.warn(warning);
    ctx.reporter.effectiveConfig(composition.yaml);
    if (!composition.runnable) this.#logger.warn("no collector config yet (no local files, no remote config): waiting for the server");
    await ctx.collector.start(composition);
  }

  #listen(ctx: SupervisorContext, client: OpampClient<ServerTarget>, queue: OperationQueue, describe: (uid: Uint8Array) => void): void {
    const { logger, store } = ctx;
    client.on("remoteConfig", (rc) => {
      const offer: StoredRemoteConfig = { hash: rc.hash, configMap: rc.configMap };
      void queue.enqueueLatest("remote-config", (opSignal) => applyRemoteConfig(ctx, offer, opSignal));
    });
    client.on("command", () => {
      void queue.enqueue("restart-command", (opSignal) => restartCommand(ctx, opSignal));
    });
    client.on("instanceUid", (uid) => {
      logger.info({ instanceUid: uidToText(uid) }, "the server assigned a new instance uid");
      describe(uid);
      void store.writeInstanceUid(uid, "server").catch((err: unknown) => logger.error({ err }, "could not persist the instance uid"));
    });
    client.on("clientError", (err) => logger.warn({ code: err.code, status: err.status }, err.message));
    client.on("state", (state) => logger.debug({ state: state.kind }, "OpAMP connection state"));
  }
}

async function restartCommand(ctx: SupervisorContext, signal: AbortSignal): Promise<void> {
  await ctx.audit.append({ action: "restart-command", result: "restarting" });
  const outcome = await ctx.collector.restart(signal);
  if (!outcome.ok) ctx.logger.error({ reason: outcome.message }, "the restart command could not start the collector; retrying with backoff");
}

/**
 * Deadline of a config transaction: validate, a stop, the startup deadline and the window,
 * twice (the rollback), with a margin. Past it the operation is aborted, not the supervisor.
 */
function operationDeadlineMs(config: ResolvedConfig): number {
  const { agent } = config;
  const window = agent.configApplyTimeoutMs + agent.health.window * (agent.health.intervalMs + agent.health.requestTimeoutMs);
  return 30_000 + 2 * (agent.stopTimeoutMs + window) + 60_000;
}
