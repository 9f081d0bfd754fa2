/** Picks the transport from the endpoint scheme and opens a connection with it. */
import { DEFAULT_MAX_MESSAGE_BYTES } from "./codec.js";
import type { OpampClientOptions } from "./client-types.js";
import { connectHttp } from "./http-transport.js";
import { buildTlsOptions } from "./tls-options.js";
import { TransportError } from "./transport.js";
import type { Connection, ConnectionHandlers } from "./transport.js";
import { connectWs } from "./ws-transport.js";
import { formatUuid } from "./uuid.js";

export type TransportKind = "ws" | "http";

/** ws/wss speak WebSocket, http/https plain HTTP; anything else is a configuration error. */
export function transportFor(endpoint: string): { kind: TransportKind; secure: boolean } {
  const protocol = new URL(endpoint).protocol;
  switch (protocol) {
    case "ws:":
      return { kind: "ws", secure: false };
    case "wss:":
      return { kind: "ws", secure: true };
    case "http:":
      return { kind: "http", secure: false };
    case "https:":
      return { kind: "http", secure: true };
    default:
      throw new TransportError("CONNECTION_FAILED", `unsupported OpAMP endpoint scheme ${protocol} (use ws, wss, http or https)`, {
        retrySameRequest: false,
      });
  }
}

export async function openConnection(
  options: OpampClientOptions,
  instanceUid: Uint8Array,
  handlers: ConnectionHandlers,
  signal: AbortSignal,
): Promise<Connection> {
  const { kind, secure } = transportFor(options.endpoint);
  const tls = secure ? await buildTlsOptions(options.tls) : {};
  const common = {
    url: options.endpoint,
    headers: options.headers ?? {},
    tls,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    now: () => options.deps.clock.now(),
  };
  if (kind === "http") return connectHttp({ ...common, requestTimeoutMs: options.requestTimeoutMs ?? 30_000 }, handlers);
  // The uid header is sent on the upgrade too, so proxies can route by it.
  const headers = { ...common.headers, "OpAMP-Instance-UID": formatUuid(instanceUid) };
  return connectWs({ ...common, headers, handshakeTimeoutMs: options.requestTimeoutMs ?? 30_000 }, handlers, signal);
}
