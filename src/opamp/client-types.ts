/** The OpAMP client's options, connection states and events. */
import type { Agent } from "node:http";
import type { ConnectionOptions } from "node:tls";
import type { Deps } from "../deps.js";
import type { BackoffOptions } from "./backoff.js";
import type {
  AgentCommand,
  ConnectionSettingsOffer,
  CustomMessage,
  PackagesOffer,
  RemoteConfigOffer,
} from "./domain.js";
import type { TransportError, WireMeter } from "./transport.js";

/** What one connect needs besides the endpoint. */
export interface ConnectMaterial {
  headers: Readonly<Record<string, string>>;
  /** Node TLS options; used only for wss:// and https://. */
  tls: ConnectionOptions;
  /** An agent for the connection (a proxy); the client destroys it with the connection. */
  agent?: Agent | undefined;
  /** Turns a TLS failure into a sentence that names what to fix; undefined when it is not one. */
  explainTlsError?: ((err: unknown) => string | undefined) | undefined;
}

/**
 * Where and how to connect; replaced at run time by `trySettings`. `prepare` runs at every
 * connect, so certificate files rotated on disk and refreshed tokens are used by the next
 * connection; without it the static `headers` are sent and the system CA roots trusted.
 */
export interface ConnectionTarget {
  /** ws://, wss://, http:// or https://; the scheme picks the transport. */
  endpoint: string;
  headers?: Readonly<Record<string, string>>;
  prepare?: (signal: AbortSignal) => Promise<ConnectMaterial>;
}

/** How a trial of new connection settings ended. On failure the previous settings are back in use. */
export type TrialResult = { ok: true } | { ok: false; error: TransportError };

export interface OpampClientOptions<T extends ConnectionTarget = ConnectionTarget> {
  /** The first connection target. */
  target: T;
  /** 16 bytes; the caller persists it. */
  instanceUid: Uint8Array;
  /** Ask the server to assign a uid (AgentToServerFlags.RequestInstanceUid). */
  requestInstanceUid?: boolean;
  /** AgentCapabilities bits; ReportsStatus is always added. */
  capabilities: bigint;
  /** Heartbeat and HTTP polling period until the server sets one (default 30 s). */
  heartbeatIntervalMs?: number;
  /** Cap on one message either way (default 64 MiB; 0 = unlimited). */
  maxMessageBytes?: number;
  /** Told the size of every message sent and received (own telemetry). */
  meter?: WireMeter | undefined;
  backoff?: Partial<BackoffOptions>;
  /** A connection that lived this long resets the backoff (default 10 s). */
  stableAfterMs?: number;
  /** How long a polite close waits for the server (default 5 s). */
  closeTimeoutMs?: number;
  /** HTTP request and WebSocket handshake timeout (default 30 s). */
  requestTimeoutMs?: number;
  deps: Deps;
}

/**
 * Connection lifecycle:
 *
 *   idle ──start()──▶ connecting ──ok──▶ connected ──lost──▶ backoff ──delay──▶ connecting
 *                        │ fail                                  ▲
 *                        └───────────────────────────────────────┘
 *   any ──close()/destroy()──▶ closed
 */
export type ConnectionState =
  | { kind: "idle" }
  | { kind: "connecting"; attempt: number }
  | { kind: "connected"; transport: "ws" | "http"; since: number }
  | { kind: "backoff"; attempt: number; delayMs: number; reason: string }
  | { kind: "closed" };

export interface OpampClientEvents {
  state: [ConnectionState];
  /** A ServerToAgent arrived (before it is acted on). */
  message: [];
  remoteConfig: [RemoteConfigOffer];
  connectionSettings: [ConnectionSettingsOffer];
  packagesAvailable: [PackagesOffer];
  command: [AgentCommand];
  /** The server's custom capabilities. */
  customCapabilities: [string[]];
  customMessage: [CustomMessage];
  /** The server assigned a new instance uid; persist it. */
  instanceUid: [Uint8Array];
  /** Server capabilities as last announced. */
  serverCapabilities: [bigint];
  /** Failures worth a log line; the client keeps going. */
  clientError: [TransportError];
}
