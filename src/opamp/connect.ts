/** Picks the transport from the endpoint scheme and opens a connection with it. */
import { DEFAULT_MAX_MESSAGE_BYTES } from "./codec.js";
import type { ConnectMaterial, ConnectionTarget, OpampClientOptions } from "./client-types.js";
import { endpointScheme } from "./endpoint.js";
import { connectHttp } from "./http-transport.js";
import { TransportError, asTransportError } from "./transport.js";
import type { Connection, ConnectionHandlers } from "./transport.js";
import { connectWs } from "./ws-transport.js";
import { formatUuid } from "./uuid.js";

export type TransportKind = "ws" | "http";

/** ws/wss speak WebSocket, http/https plain HTTP; anything else is a configuration error. */
export function transportFor(endpoint: string): { kind: TransportKind; secure: boolean } {
  const scheme = endpointScheme(endpoint);
  if (!scheme) {
    throw new TransportError(
      "CONNECTION_FAILED",
      `unsupported OpAMP endpoint ${JSON.stringify(endpoint)} (use a ws, wss, http or https URL)`,
      {
        retrySameRequest: false,
      },
    );
  }
  return { kind: scheme.transport, secure: scheme.secure };
}

export async function openConnection(
  options: OpampClientOptions,
  target: ConnectionTarget,
  instanceUid: Uint8Array,
  handlers: ConnectionHandlers,
  signal: AbortSignal,
): Promise<Connection> {
  const { kind, secure } = transportFor(target.endpoint);
  const material: ConnectMaterial = target.prepare
    ? await target.prepare(signal)
    : { headers: target.headers ?? {}, tls: {} };
  const common = {
    url: target.endpoint,
    headers: material.headers,
    tls: secure ? material.tls : {},
    agent: material.agent,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    now: () => options.deps.clock.now(),
    meter: options.meter,
  };
  const explain = (err: unknown): unknown => (secure ? withTlsExplanation(err, target.endpoint, material) : err);
  if (kind === "http") {
    // Over HTTP the handshake happens on the first POST, so that is where TLS errors surface.
    const conn = connectHttp({ ...common, requestTimeoutMs: options.requestTimeoutMs ?? 30_000 }, handlers);
    if (!secure) return conn;
    return {
      kind: conn.kind,
      send: (msg, sendSignal) =>
        conn.send(msg, sendSignal).catch((err: unknown) => {
          throw explain(err);
        }),
      close: (last, timeoutMs) => conn.close(last, timeoutMs),
      destroy: () => conn.destroy(),
    };
  }
  // The uid header is sent on the upgrade too, so proxies can route by it.
  const headers = { ...common.headers, "OpAMP-Instance-UID": formatUuid(instanceUid) };
  try {
    return await connectWs(
      { ...common, headers, handshakeTimeoutMs: options.requestTimeoutMs ?? 30_000 },
      handlers,
      signal,
    );
  } catch (err) {
    throw explain(err);
  }
}

/** Replaces an OpenSSL-speak TLS failure by one that names the CA or certificate to fix. */
function withTlsExplanation(err: unknown, endpoint: string, material: ConnectMaterial): unknown {
  const explanation = material.explainTlsError?.(err);
  if (explanation === undefined) return err;
  const base = asTransportError(err, "TLS handshake failed");
  return new TransportError(
    "CONNECTION_FAILED",
    `TLS handshake with ${new URL(endpoint).host} failed: ${explanation}`,
    {
      cause: err,
      ...(base.status !== undefined ? { status: base.status } : {}),
    },
  );
}
