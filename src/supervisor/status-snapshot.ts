/**
 * The supervisor's own view of itself, kept as facts arrive (connection state changes,
 * collector starts and health, remote config and package statuses), for `GET /health` and
 * `opamp-supervisor status`. Readers get a plain JSON-able copy; nothing is recomputed there.
 *
 * No secrets: the server endpoint loses its userinfo and query, headers and tokens are never
 * taken in, and every error text arrives already masked (the reporter masks what it sends)
 * or is masked here.
 */
import type { Clock } from "../deps.js";
import type { CollectorHealth } from "../health/component-health.js";
import type { ConnectionState } from "../opamp/client-types.js";
import type { PackageStatusesReport } from "../opamp/domain.js";
import type { StoredRemoteConfigStatus } from "../storage/index.js";
import { bytesToHex } from "../storage/index.js";

/** ISO times; null when the thing has not happened (yet). */
export interface StatusView {
  /** "ok" while the collector is healthy, "degraded" otherwise; the supervisor itself answers either way. */
  status: "ok" | "degraded";
  version: string;
  instanceUid: string;
  startedAt: string;
  connection: {
    state: ConnectionState["kind"];
    endpoint: string;
    since: string | null;
    lastError: string | null;
    lastErrorAt: string | null;
  };
  collector: {
    version: string;
    pid: number | null;
    healthy: boolean;
    status: string;
    since: string | null;
    restarts: number;
    /** The last failure seen (kept after recovery, with its time); a start or stop in progress is not one. */
    lastError: string | null;
    lastErrorAt: string | null;
  };
  remoteConfig: { hash: string | null; status: string; at: string | null; error: string | null };
  availableComponents: { hash: string } | null;
  package?: Array<{ name: string; version: string; status: string; offeredVersion: string; error: string | null }>;
}

/** Statuses every (re)start and stop passes through: not errors worth keeping as the last one. */
const TRANSITIONS = new Set(["StatusStarting", "StatusStopping"]);

export class StatusSnapshot {
  readonly #clock: Clock;
  readonly #mask: (text: string) => string;
  readonly #view: StatusView;

  constructor(options: {
    clock: Clock;
    version: string;
    endpoint: string;
    instanceUid: string;
    mask: (text: string) => string;
  }) {
    this.#clock = options.clock;
    this.#mask = options.mask;
    this.#view = {
      status: "degraded",
      version: options.version,
      instanceUid: options.instanceUid,
      startedAt: this.#now(),
      connection: {
        state: "idle",
        endpoint: publicEndpoint(options.endpoint),
        since: null,
        lastError: null,
        lastErrorAt: null,
      },
      collector: {
        version: "unknown",
        pid: null,
        healthy: false,
        status: "not started",
        since: null,
        restarts: 0,
        lastError: null,
        lastErrorAt: null,
      },
      remoteConfig: { hash: null, status: "UNSET", at: null, error: null },
      availableComponents: null,
    };
  }

  /** A deep copy: callers may serialize or change it freely. */
  view(): StatusView {
    return structuredClone(this.#view);
  }

  instanceUid(uid: string): void {
    this.#view.instanceUid = uid;
  }

  connection(state: ConnectionState): void {
    const c = this.#view.connection;
    if (state.kind === c.state && state.kind !== "backoff") return;
    c.state = state.kind;
    c.since = state.kind === "connected" ? iso(state.since) : this.#now();
    if (state.kind === "backoff") {
      c.lastError = this.#mask(state.reason);
      c.lastErrorAt = this.#now();
    }
  }

  connectionEndpoint(endpoint: string): void {
    this.#view.connection.endpoint = publicEndpoint(endpoint);
  }

  collectorVersion(version: string): void {
    this.#view.collector.version = version;
  }

  /** A run is up; every run after the first counts as a restart (crash, config apply, command). */
  collectorStarted(pid: number): void {
    const c = this.#view.collector;
    if (c.since !== null) c.restarts += 1;
    c.pid = pid;
    c.since = this.#now();
  }

  collectorHealth(health: CollectorHealth): void {
    const c = this.#view.collector;
    c.healthy = health.healthy;
    c.status = health.status;
    if (!health.healthy && health.lastError && !TRANSITIONS.has(health.status)) {
      c.lastError = this.#mask(health.lastError);
      c.lastErrorAt = this.#now();
    }
    if (health.startedAtMs === undefined) c.pid = null;
    this.#view.status = health.healthy ? "ok" : "degraded";
  }

  remoteConfig(status: StoredRemoteConfigStatus): void {
    this.#view.remoteConfig = {
      hash: status.hash.length === 0 ? null : bytesToHex(status.hash),
      status: status.status,
      at: this.#now(),
      error: status.errorMessage === "" ? null : this.#mask(status.errorMessage),
    };
  }

  availableComponents(hash: Uint8Array | undefined): void {
    this.#view.availableComponents = hash ? { hash: bytesToHex(hash) } : null;
  }

  packages(report: PackageStatusesReport): void {
    this.#view.package = Object.values(report.packages).map((p) => ({
      name: p.name,
      version: p.agentHasVersion,
      status: p.status,
      offeredVersion: p.serverOfferedVersion,
      error: p.errorMessage === "" ? null : this.#mask(p.errorMessage),
    }));
  }

  #now(): string {
    return iso(this.#clock.now());
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The endpoint without credentials: userinfo and query strings can carry tokens. */
export function publicEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.username = "";
    url.password = "";
    url.search = "";
    url.hash = "";
    return url.toString();
  } catch {
    return "(unparsable endpoint)";
  }
}
