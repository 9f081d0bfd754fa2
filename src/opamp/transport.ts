/**
 * What the client needs from a transport. WebSocket and plain HTTP look the same from
 * above: a connection that sends AgentToServer messages and delivers ServerToAgent ones.
 */
import { ProtocolError } from "../errors.js";
import type { SupervisorErrorCode } from "../errors.js";
import { encodeAgentToServer } from "./codec.js";
import type { AgentToServer, ServerToAgent } from "./codec.js";

export interface ConnectionHandlers {
  /** A decoded message from the server. */
  onMessage(msg: ServerToAgent): void;
  /** The connection ended without the client asking; `error` says why when known. */
  onLost(error: TransportError): void;
}

/** Counts bytes on the wire for the supervisor's own metrics; each call is one message. */
export interface WireMeter {
  sent(bytes: number): void;
  received(bytes: number): void;
}

export interface Connection {
  readonly kind: "ws" | "http";
  /**
   * Sends one message. Over HTTP this is the whole request: it resolves after the
   * response was decoded and handed to `onMessage`.
   */
  send(msg: AgentToServer, signal: AbortSignal): Promise<void>;
  /** Sends `last` (the agent_disconnect message), then closes politely within the timeout. */
  close(last: AgentToServer | undefined, timeoutMs: number): Promise<void>;
  /** Drops the connection at once. Idempotent. */
  destroy(): void;
}

export interface TransportErrorDetails {
  /** HTTP status of a refused request or WebSocket upgrade. */
  status?: number;
  /** How long the server asked us to wait (Retry-After or retry_info). */
  retryAfterMs?: number;
  /** False when the same request must not be sent again (HTTP 413). */
  retrySameRequest?: boolean;
  cause?: unknown;
}

/** A failed connect, request or connection; carries what the backoff needs. */
export class TransportError extends ProtocolError {
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly retrySameRequest: boolean;

  constructor(code: SupervisorErrorCode, message: string, details: TransportErrorDetails = {}) {
    super(code, message, { cause: details.cause });
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.retrySameRequest = details.retrySameRequest ?? true;
  }
}

/** A 407 comes from a proxy between us and the server, not from the server. */
export const PROXY_REFUSED =
  "the proxy refused the connection (HTTP 407 Proxy Authentication Required): check the credentials in HTTPS_PROXY / HTTP_PROXY";

export function asTransportError(err: unknown, fallback: string): TransportError {
  if (err instanceof TransportError) return err;
  if (err instanceof ProtocolError) return new TransportError(err.code, err.message, { cause: err });
  const text = err instanceof Error ? err.message : String(err);
  return new TransportError("CONNECTION_FAILED", `${fallback}: ${text}`, { cause: err });
}

/**
 * Encodes an outgoing message, refusing one over the size cap: the spec says such a
 * message MUST NOT be sent, and resending it would fail the same way.
 */
export function encodeForSend(msg: AgentToServer, maxBytes: number): Uint8Array {
  const bytes = encodeAgentToServer(msg);
  if (maxBytes > 0 && bytes.length > maxBytes) {
    throw new TransportError(
      "MESSAGE_TOO_LARGE",
      `outgoing message of ${bytes.length} bytes exceeds the ${maxBytes}-byte limit; not sent`,
      {
        retrySameRequest: false,
      },
    );
  }
  return bytes;
}
