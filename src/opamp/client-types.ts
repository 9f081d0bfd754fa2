/** The OpAMP client's options, connection states and events. */
import type { Deps } from "../deps.js";
import type { BackoffOptions } from "./backoff.js";
import type {
  AgentRemoteConfig,
  ConnectionSettingsOffers,
  CustomCapabilities,
  CustomMessage,
  PackagesAvailable,
  ServerToAgent,
  ServerToAgentCommand,
} from "./codec.js";
import type { TlsSettings } from "./tls-options.js";
import type { TransportError } from "./transport.js";

/** Where and how to connect; replaced at run time by `trySettings`. */
export interface ConnectionTarget {
  /** ws://, wss://, http:// or https://; the scheme picks the transport. */
  endpoint: string;
  headers?: Readonly<Record<string, string>>;
  /** Used only for wss:// and https://. */
  tls?: TlsSettings;
}

/** How a trial of new connection settings ended. On failure the previous settings are back in use. */
export type TrialResult = { ok: true } | { ok: false; error: TransportError };

export interface OpampClientOptions extends ConnectionTarget {
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
  /** Every decoded ServerToAgent, before it is acted on. */
  message: [ServerToAgent];
  remoteConfig: [AgentRemoteConfig];
  connectionSettings: [ConnectionSettingsOffers];
  packagesAvailable: [PackagesAvailable];
  command: [ServerToAgentCommand];
  customCapabilities: [CustomCapabilities];
  customMessage: [CustomMessage];
  /** The server assigned a new instance uid; persist it. */
  instanceUid: [Uint8Array];
  /** Server capabilities as last announced. */
  serverCapabilities: [bigint];
  /** Failures worth a log line; the client keeps going. */
  clientError: [TransportError];
}
