/**
 * The supervisor's own metrics: the one list of names, units and attributes (the README
 * table is written from it), the narrow interface the rest of the code records through,
 * and the no-op used when `telemetry.metrics` exports nothing, so a supervisor without
 * telemetry never loads the OpenTelemetry SDK.
 *
 * Names follow OpenTelemetry conventions (dotted, a namespace prefix, UCUM units); the JS
 * Prometheus exporter turns dots into underscores and adds `_total` to counters but no unit
 * suffix, so byte counters say "bytes" in their name to read well there too.
 */

const NS = "opamp_supervisor";

/** Every instrument: name, unit, kind and what it means. */
export const METRICS = {
  connectionState: {
    name: `${NS}.opamp.connection.state`,
    unit: "1",
    kind: "gauge",
    attributes: ["state"],
    description:
      "1 for the OpAMP connection's current state (idle, connecting, connected, backoff, closed), 0 for the others",
  },
  reconnects: {
    name: `${NS}.opamp.reconnects`,
    unit: "{reconnect}",
    kind: "counter",
    attributes: [],
    description: "Connection attempts after the first one (each follows a lost or refused connection)",
  },
  messagesSent: {
    name: `${NS}.opamp.messages.sent`,
    unit: "{message}",
    kind: "counter",
    attributes: [],
    description: "AgentToServer messages sent",
  },
  messagesReceived: {
    name: `${NS}.opamp.messages.received`,
    unit: "{message}",
    kind: "counter",
    attributes: [],
    description: "ServerToAgent messages received",
  },
  bytesSent: {
    name: `${NS}.opamp.bytes.sent`,
    unit: "By",
    kind: "counter",
    attributes: [],
    description: "Bytes of AgentToServer messages sent (protobuf, with the WebSocket header byte)",
  },
  bytesReceived: {
    name: `${NS}.opamp.bytes.received`,
    unit: "By",
    kind: "counter",
    attributes: [],
    description: "Bytes of ServerToAgent messages received",
  },
  configApplies: {
    name: `${NS}.config.applies`,
    unit: "{apply}",
    kind: "counter",
    attributes: ["source", "result", "reason"],
    description:
      "Config applies by source (remote, local) and result (applied, unchanged, failed); reason: why a remote one failed",
  },
  configApplyDuration: {
    name: `${NS}.config.apply.duration`,
    unit: "s",
    kind: "histogram",
    attributes: ["source", "result", "phase"],
    description: "Time of each phase of a config apply: validate, apply (write, reload or restart), health",
  },
  rollbacks: {
    name: `${NS}.config.rollbacks`,
    unit: "{rollback}",
    kind: "counter",
    attributes: ["result"],
    description: "Rollbacks to the last working config by result (healthy, unhealthy)",
  },
  healthChecks: {
    name: `${NS}.collector.health_checks`,
    unit: "{check}",
    kind: "counter",
    attributes: ["result"],
    description: "Health checks of the collector by result (healthy, unhealthy)",
  },
  collectorRestarts: {
    name: `${NS}.collector.restarts`,
    unit: "{restart}",
    kind: "counter",
    attributes: ["cause"],
    description:
      "Collector runs started after the first: cause crash (automatic restart) or requested (apply, command, upgrade)",
  },
  collectorExits: {
    name: `${NS}.collector.exits`,
    unit: "{exit}",
    kind: "counter",
    attributes: ["reason", "code"],
    description:
      "Unexpected collector ends by reason (exit_code, signal, start_failed); code: the exit code or signal name",
  },
  packageInstalls: {
    name: `${NS}.package.installs`,
    unit: "{install}",
    kind: "counter",
    attributes: ["result"],
    description: "Package installs by result (installed, failed, already_installed)",
  },
  packageDownloaded: {
    name: `${NS}.package.downloaded`,
    unit: "By",
    kind: "counter",
    attributes: [],
    description: "Bytes of package files downloaded (complete downloads)",
  },
  certificateExpiry: {
    name: `${NS}.certificate.expiry`,
    unit: "s",
    kind: "gauge",
    attributes: [],
    description: "When the client certificate of the OpAMP connection expires, in seconds since the Unix epoch",
  },
  stateWriteFailures: {
    name: `${NS}.storage.write_failures`,
    unit: "{failure}",
    kind: "counter",
    attributes: ["file", "code"],
    description: "Writes to the state directory the disk refused, by file (state, audit) and errno code",
  },
} as const;

export type ConnectionStateKind = "idle" | "connecting" | "connected" | "backoff" | "closed";
export type ApplySource = "remote" | "local";
export type ApplyResult = "applied" | "unchanged" | "failed";
export type CollectorExit =
  { reason: "exit_code"; code: number } | { reason: "signal"; signal: string } | { reason: "start_failed" };
/** `starting`: a failed check before a (re)started collector's first healthy answer. */
export type HealthCheckResult = "healthy" | "unhealthy" | "starting";
export type InstallResult = "installed" | "failed" | "already_installed";

export interface ApplyRecord {
  source: ApplySource;
  result: ApplyResult;
  /** The failure's reason code (validate-refused, unhealthy, ...), for failed applies. */
  reason?: string;
  /** The phases that ran; absent when the config was refused before the collector controller was asked. */
  phasesMs?: Partial<Record<"validate" | "apply" | "health", number>>;
}

/** What the supervisor records; every method is cheap and never throws. */
export interface SupervisorMetrics {
  connectionState(state: ConnectionStateKind): void;
  reconnect(): void;
  messageSent(bytes: number): void;
  messageReceived(bytes: number): void;
  configApply(record: ApplyRecord): void;
  rollback(result: "healthy" | "unhealthy"): void;
  healthCheck(result: HealthCheckResult): void;
  collectorRestart(cause: "crash" | "requested"): void;
  collectorExit(exit: CollectorExit): void;
  packageInstall(result: InstallResult): void;
  packageDownloaded(bytes: number): void;
  /** Milliseconds since the epoch; undefined when there is no client certificate. */
  certificateExpiry(notAfterMs: number | undefined): void;
  stateWriteFailure(file: "state" | "audit", code: string): void;
}

const nothing = (): void => undefined;

export const noopMetrics: SupervisorMetrics = {
  connectionState: nothing,
  reconnect: nothing,
  messageSent: nothing,
  messageReceived: nothing,
  configApply: nothing,
  rollback: nothing,
  healthCheck: nothing,
  collectorRestart: nothing,
  collectorExit: nothing,
  packageInstall: nothing,
  packageDownloaded: nothing,
  certificateExpiry: nothing,
  stateWriteFailure: nothing,
};
