/**
 * Runs the connection-settings machinery the way the supervisor wires it (real client, queue,
 * state directory, audit log) against an mTLS test server, with every log line captured
 * through the production logger (redaction included) for the secrets check.
 */
import { Writable } from "node:stream";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveSupervisorConfig } from "../../src/config/load.js";
import type { ResolvedConfig } from "../../src/config/schema.js";
import type { Clock, Deps } from "../../src/deps.js";
import { createDefaultDeps, systemClock } from "../../src/deps.js";
import { OpampClient } from "../../src/opamp/client.js";
import { AuditLog, StateStore, openStateDir } from "../../src/storage/index.js";
import type { StateFs } from "../../src/storage/index.js";
import type { StateDir } from "../../src/storage/index.js";
import { capabilityBits } from "../../src/supervisor/capabilities.js";
import { ConnectionSettings } from "../../src/connection/connection-settings.js";
import { OperationQueue } from "../../src/supervisor/queue.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { TEST_UID } from "../support/client-fixture.js";

/** Every log line of every test in this process, as written by pino. */
export const capturedLogs: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    capturedLogs.push(chunk.toString("utf8"));
    done();
  },
});
export const logger = createLogger("debug", sink);

export interface Rig {
  dir: string;
  config: ResolvedConfig;
  stateDir: StateDir;
  client: OpampClient;
  connection: ConnectionSettings;
  audit: AuditLog;
  stop(): Promise<void>;
}

export interface RigOptions {
  endpoint: string;
  /** YAML lines under server.tls (indented by the caller with four spaces). */
  tls?: string;
  /** YAML lines under server (four-space indent), e.g. headers. */
  server?: string;
  capabilities?: Record<string, boolean>;
  clock?: Clock;
  /** Reuse a directory (a restart). */
  dir?: string;
  /** The state store's filesystem seam (disk faults). */
  fs?: StateFs;
}

export const CSR_CAPABILITIES = {
  accepts_opamp_connection_settings: true,
  reports_connection_settings_status: true,
};

export async function startRig(o: RigOptions): Promise<Rig> {
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), "tls-rig-")));
  const caps = { ...CSR_CAPABILITIES, ...o.capabilities };
  const yaml = `server:
  endpoint: ${o.endpoint}
${o.server ?? ""}
  tls:
    renew_retry_interval: 1s
    connection_trial_timeout: 3s
${o.tls ?? ""}
capabilities:
${Object.entries(caps)
  .map(([k, v]) => `  ${k}: ${v}`)
  .join("\n")}
agent:
  executable: /usr/bin/otelcol
storage:
  directory: ${join(dir, "state")}
`;
  await writeFile(join(dir, "supervisor.yaml"), yaml);
  const config = resolveSupervisorConfig(yaml, join(dir, "supervisor.yaml"), {});
  const clock = o.clock ?? systemClock;
  const deps: Deps = createDefaultDeps({ clock, random: () => 0.5, logger });
  const stateDir = await openStateDir(config.storage.directory);
  const store = new StateStore({ dir: stateDir, clock, ...(o.fs ? { fs: o.fs } : {}) });
  const audit = new AuditLog({ path: stateDir.file("audit.log"), clock });
  const connection = await ConnectionSettings.open({ config, deps, stateDir, store, audit });
  const client = new OpampClient({
    ...connection.initialOptions(),
    instanceUid: TEST_UID,
    capabilities: capabilityBits(config.capabilities),
    deps: { ...deps, logger: logger.child({ component: "opamp" }) },
  });
  client.on("clientError", (err) => logger.warn({ code: err.code }, err.message));
  const controller = new AbortController();
  const queue = new OperationQueue({ logger, clock, signal: controller.signal, defaultDeadlineMs: 60_000 });
  connection.attach(client, queue, controller.signal);
  client.start();
  return {
    dir,
    config,
    stateDir,
    client,
    connection,
    audit,
    async stop() {
      controller.abort();
      await queue.close();
      await connection.close();
      client.destroy();
    },
  };
}
