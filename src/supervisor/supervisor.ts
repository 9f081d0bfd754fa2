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
import type { AttributeValue } from "../opamp/domain.js";
import { reapLeftover } from "../process/index.js";
import { AuditLog, StateStore, openStateDir, uidToText } from "../storage/index.js";
import type { StoredRemoteConfig } from "../storage/index.js";
import { capabilityBits } from "./capabilities.js";
import { reportAvailableComponents } from "./components.js";
import type { SupervisorContext, SupervisorHooks } from "./context.js";
import { buildDescription } from "./description.js";
import { resourceAttributesOf } from "./resource-attributes.js";
import { OperationQueue } from "./queue.js";
import { listenForPackages, preparePackages } from "./packages.js";
import { reloadLocalConfig } from "./local-reload.js";
import { applyRemoteConfig } from "./remote-config.js";
import { OwnTelemetry } from "./own-telemetry.js";
import { retriedOffers } from "./retried-offers.js";
import { StatusReporter } from "./reporter.js";
import { createGrowingMasker, secretsOf } from "../telemetry/mask.js";
import type { GrowingMasker } from "../telemetry/mask.js";
import { loadInstanceUid, settleRemoteConfigStatus } from "./startup.js";
import { StatusSnapshot } from "./status-snapshot.js";
import { serveHealth } from "./health-server.js";
import { supervisorTelemetryWiring, type SupervisorTelemetry } from "./supervisor-telemetry.js";
import { SUPERVISOR_VERSION } from "../version.js";

export interface SupervisorOptions {
  config: ResolvedConfig;
  deps: Deps;
  hooks?: SupervisorHooks;
  /** The supervisor's own metrics and traces (telemetry.*); absent: none. */
  telemetry?: SupervisorTelemetry;
  /** The log's masker, to learn offered secrets too; absent: one of its own. */
  masker?: GrowingMasker;
}

const noHooks: SupervisorHooks = { checkpoint: () => undefined };

export class Supervisor {
  readonly #config: ResolvedConfig;
  readonly #deps: Deps;
  readonly #hooks: SupervisorHooks;
  readonly #telemetry: SupervisorTelemetry | undefined;
  readonly #masker: GrowingMasker | undefined;
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
    this.#telemetry = options.telemetry;
    this.#masker = options.masker;
    this.#logger = options.deps.logger.child({ component: "supervisor" });
  }

  /** Runs until `signal` aborts, then shuts down in order. */
  async run(signal: AbortSignal): Promise<void> {
    // A start that fails must not leave the /health listener up: the process would stay
    // alive and answer 200 with no supervisor behind it.
    const ended = new AbortController();
    try {
      await this.#run(signal, AbortSignal.any([signal, ended.signal]));
    } finally {
      ended.abort();
    }
  }

  async #run(signal: AbortSignal, untilEnded: AbortSignal): Promise<void> {
    const config = this.#config;
    const deps = this.#deps;
    const logger = this.#logger;
    const masker = this.#masker ?? createGrowingMasker(secretsOf(config));
    // What the server offered, and only that, is masked in the effective config it hears.
    const offered = createGrowingMasker([]);
    const own = supervisorTelemetryWiring(this.#telemetry, (text) => masker.mask(text));
    const stateDir = await openStateDir(config.storage.directory, { logger: deps.logger });
    await reapLeftover(stateDir, { clock: deps.clock, logger: deps.logger });
    const audit = new AuditLog({
      path: stateDir.file("audit.log"),
      clock: deps.clock,
      logger: deps.logger,
      ...own.audit,
    });
    const store = new StateStore({ dir: stateDir, clock: deps.clock, logger: deps.logger, audit, ...own.store });
    const instanceUid = await loadInstanceUid(config, store);
    const connection = await ConnectionSettings.open({ config, deps, stateDir, store, audit });
    // The client does nothing on the network before start().
    const client = new OpampClient<ServerTarget>({
      heartbeatIntervalMs: config.server.heartbeatIntervalMs,
      ...connection.initialOptions(), // an interval the server offered before wins
      instanceUid,
      capabilities: capabilityBits(config.capabilities),
      deps: { ...deps, logger: deps.logger.child({ component: "opamp" }) },
      ...own.client,
    });
    own.watch(client);
    const snapshot = new StatusSnapshot({
      clock: deps.clock,
      version: SUPERVISOR_VERSION,
      endpoint: config.server.endpoint,
      instanceUid: uidToText(instanceUid),
      mask: (text) => masker.mask(text),
    });
    client.on("state", (state) => {
      if (state.kind === "connected") snapshot.connectionEndpoint(client.target.endpoint); // offered settings may have moved it
      snapshot.connection(state);
    });
    const health = await serveHealth(config, snapshot, untilEnded);
    const reporter = new StatusReporter(client, config.capabilities, store, masker, snapshot, offered);
    let version = "unknown";
    let serviceName = basename(config.agent.executable).replace(/\.[cm]?js$/, "");
    let resourceAttributes: Record<string, AttributeValue> = {};
    let describe: (uid: Uint8Array) => void = () => undefined;
    const driver = driverFor(config, stateDir, deps, signal);
    const collector = new CollectorController({
      config,
      deps,
      stateDir,
      signal,
      driver,
      ...own.controller,
      onHealth: (health) => reporter.health(health),
      onStarted: (pid) => snapshot.collectorStarted(pid),
      onVersion: (installed) => {
        version = installed;
        snapshot.collectorVersion(installed);
        describe(client.instanceUid);
        // A package upgrade swapped the binary: its inventory may differ.
        void reportAvailableComponents(components, signal);
      },
      onEffective: (composition) => {
        if (!config.agent.description.includeResourceAttributes) return;
        resourceAttributes = resourceAttributesOf(composition.yaml);
        describe(client.instanceUid);
      },
    });
    const components = { config, driver: collector.inventory, client, logger, clock: deps.clock, snapshot };
    // Before the version is read and the collector starts: an interrupted upgrade is settled first.
    const packages = await preparePackages({
      config,
      deps,
      store,
      audit,
      hooks: this.#hooks,
      collector,
      client,
      signal,
      snapshot,
      mask: (text) => reporter.mask(text),
    });
    // Read while the collector starts; the description waits for it, the collector does not.
    const versionRead = collector.version().then(
      (info) => {
        version = info.version;
        snapshot.collectorVersion(info.version);
        // The name the collector gives itself in `--version` is its service.name in its own telemetry.
        serviceName = info.name ?? serviceName;
      },
      (err: unknown) => logger.warn({ err }, "could not read the collector version"),
    );
    const componentsRead = reportAvailableComponents(components, signal);
    const ctx: SupervisorContext = {
      config,
      deps,
      logger,
      stateDir,
      store,
      audit,
      collector,
      reporter,
      hooks: this.#hooks,
      signal,
    };

    describe = (uid: Uint8Array): void =>
      reporter.description(
        buildDescription({
          serviceName,
          serviceVersion: version,
          instanceUid: uidToText(uid),
          identifying: config.agent.description.identifyingAttributes,
          nonIdentifying: config.agent.description.nonIdentifyingAttributes,
          resourceAttributes,
        }),
      );
    const ownTelemetry = await OwnTelemetry.open(ctx, [masker, offered], () => uidToText(client.instanceUid));
    if (ownTelemetry.lost)
      await connection.settingsLost(
        "the collector's own-telemetry settings were lost (a damaged state file); it runs without them: send them again",
      );
    const { status, working } = await settleRemoteConfigStatus(store, audit);
    if (status) reporter.restoreRemoteConfigStatus(status);
    await this.#startCollector(ctx, working);
    await versionRead;
    await componentsRead; // before the first message, so its capabilities are already right
    describe(instanceUid);

    const queue = new OperationQueue({
      logger,
      clock: deps.clock,
      signal,
      defaultDeadlineMs: operationDeadlineMs(config),
    });
    this.#listen(ctx, client, queue, (uid) => {
      snapshot.instanceUid(uidToText(uid));
      describe(uid);
      void queue.enqueue("own-telemetry-uid", (opSignal) => ownTelemetry.instanceUidChanged(opSignal));
    });
    this.#reload = () => void queue.enqueue("local-config-reload", (opSignal) => reloadLocalConfig(ctx, opSignal));
    connection.attach(client, queue, signal, ownTelemetry);
    listenForPackages({ config, deps, client, queue, packages, signal });
    client.start();
    const monitoring = collector.run(signal);
    logger.info(
      { endpoint: config.server.endpoint, instanceUid: uidToText(instanceUid), version, run: config.agent.run },
      `supervisor started (agent.run: ${config.agent.run})`,
    );

    // A stop requested while starting up is honoured here too.
    if (!signal.aborted)
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    logger.info({ reason: String(signal.reason) }, "shutting down");
    await queue.close();
    await connection.close();
    await collector.close();
    await monitoring;
    await client.close(AbortSignal.timeout(5_000));
    await health?.closed;
    logger.info("supervisor stopped");
  }

  /** Runs the last working config, else the startup fallbacks, else the local files. */
  async #startCollector(ctx: SupervisorContext, working: StoredRemoteConfig | undefined): Promise<void> {
    const composed = await ctx.collector.composeFallback(working);
    if (!composed.ok) throw new ConfigError("collector config", [composed.message]);
    const { composition } = composed;
    for (const warning of composition.warnings) this.#logger.warn(warning);
    ctx.reporter.effectiveConfig(composition.yaml);
    if (!composition.runnable)
      this.#logger.warn("no collector config yet (no local files, no remote config): waiting for the server");
    await ctx.collector.start(composition);
  }

  #listen(
    ctx: SupervisorContext,
    client: OpampClient<ServerTarget>,
    queue: OperationQueue,
    describe: (uid: Uint8Array) => void,
  ): void {
    const { logger, store } = ctx;
    const remoteConfig = retriedOffers<StoredRemoteConfig>({
      kind: "remote-config",
      queue,
      clock: ctx.deps.clock,
      logger,
      signal: ctx.signal,
      firstRetryMs: ctx.config.storage.retryIntervalMs,
      handle: (offer, opSignal) => applyRemoteConfig(ctx, offer, opSignal),
    });
    client.on("remoteConfig", (rc) => remoteConfig({ hash: rc.hash, configMap: rc.configMap }));
    client.on("command", () => {
      void queue.enqueue("restart-command", (opSignal) => restartCommand(ctx, opSignal));
    });
    client.on("instanceUid", (uid) => {
      logger.info({ instanceUid: uidToText(uid) }, "the server assigned a new instance uid");
      describe(uid);
      void store
        .writeInstanceUid(uid, "server")
        .catch((err: unknown) => logger.error({ err }, "could not persist the instance uid"));
    });
    client.on("clientError", (err) => logger.warn({ code: err.code, status: err.status }, err.message));
    client.on("state", (state) => logger.debug({ state: state.kind }, "OpAMP connection state"));
  }
}

async function restartCommand(ctx: SupervisorContext, signal: AbortSignal): Promise<void> {
  await ctx.audit.append({ action: "restart-command", result: "restarting" });
  const outcome = await ctx.collector.restart(signal);
  if (!outcome.ok)
    ctx.logger.error(
      { reason: outcome.message },
      "the restart command could not start the collector; retrying with backoff",
    );
}

/**
 * Deadline of a config transaction: validate, a stop, the startup deadline and the window,
 * twice (the rollback), with a margin. Past it the operation is aborted, not the supervisor.
 */
function operationDeadlineMs(config: ResolvedConfig): number {
  const { agent } = config;
  const window =
    agent.configApplyTimeoutMs + agent.health.window * (agent.health.intervalMs + agent.health.requestTimeoutMs);
  return 30_000 + 2 * (agent.stopTimeoutMs + window) + 60_000;
}
