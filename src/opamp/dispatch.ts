/**
 * Incoming ServerToAgent handling: turns each message into client state changes and events,
 * honouring the agent's capabilities. Works only through the narrow `MessageHost` callbacks.
 */
import type { EventEmitter } from "node:events";
import { ServerErrorResponseType, ServerToAgentFlags } from "../gen/opamp_pb.js";
import type { ServerToAgent } from "../gen/opamp_pb.js";
import type { OpampClientEvents } from "./client-types.js";
import {
  commandFromWire,
  connectionSettingsFromWire,
  customMessageFromWire,
  packagesFromWire,
  remoteConfigFromWire,
} from "./convert.js";
import type { AgentCapability } from "./domain.js";
import { TransportError } from "./transport.js";

/** The parts of the client a server message may touch. */
export interface MessageHost {
  readonly emit: EventEmitter<OpampClientEvents>["emit"];
  /** Whether the agent currently has `capability` (read live: listeners may change it). */
  has(capability: AgentCapability): boolean;
  serverCapabilities(): bigint;
  setServerCapabilities(bits: bigint): void;
  /** Ends the current connection; the connect loop backs off and reconnects. */
  connectionLost(error: TransportError): void;
  /** Takes a valid 16-byte server-assigned uid into use. */
  adoptInstanceUid(uid: Uint8Array): void;
  /** Resends every status sub-message with the next message. */
  reportFullState(): void;
  /** Sends AvailableComponents with its full map with the next message. */
  reportAvailableComponents(): void;
  setHeartbeatInterval(ms: number): void;
}

export function dispatchMessage(msg: ServerToAgent, host: MessageHost): void {
  host.emit("message");
  const error = msg.errorResponse;
  if (error) {
    const retryNs = error.Details.case === "retryInfo" ? error.Details.value.retryAfterNanoseconds : undefined;
    const unavailable = error.type === ServerErrorResponseType.ServerErrorResponseType_Unavailable;
    const failure = new TransportError(
      "SERVER_ERROR",
      `server error: ${error.errorMessage || ServerErrorResponseType[error.type]}`,
      {
        ...(retryNs !== undefined ? { retryAfterMs: Number(retryNs / 1_000_000n) } : {}),
      },
    );
    if (unavailable)
      host.connectionLost(failure); // disconnect, wait, reconnect
    else host.emit("clientError", failure); // BadRequest/Unknown: do not resend that message
    return;
  }
  if (msg.capabilities !== 0n && msg.capabilities !== host.serverCapabilities()) {
    host.setServerCapabilities(msg.capabilities);
    host.emit("serverCapabilities", msg.capabilities);
  }
  const newUid = msg.agentIdentification?.newInstanceUid;
  if (newUid) adoptInstanceUid(newUid, host);
  if (msg.command) {
    // A command stands alone: every other field of this message is ignored.
    const command = commandFromWire(msg.command);
    if (command && host.has("acceptsRestartCommand")) host.emit("command", command);
    return;
  }
  if (msg.flags & BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportFullState)) host.reportFullState();
  if (
    msg.flags & BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportAvailableComponents) &&
    host.has("reportsAvailableComponents")
  ) {
    host.reportAvailableComponents();
  }
  if (msg.remoteConfig && host.has("acceptsRemoteConfig")) {
    host.emit("remoteConfig", remoteConfigFromWire(msg.remoteConfig));
  }
  if (msg.connectionSettings) {
    const seconds = msg.connectionSettings.opamp?.heartbeatIntervalSeconds;
    if (seconds !== undefined && host.has("reportsHeartbeat")) {
      host.setHeartbeatInterval(Number(seconds) * 1000);
    }
    host.emit("connectionSettings", connectionSettingsFromWire(msg.connectionSettings));
  }
  if (msg.packagesAvailable && host.has("acceptsPackages")) {
    host.emit("packagesAvailable", packagesFromWire(msg.packagesAvailable));
  }
  if (msg.customCapabilities) host.emit("customCapabilities", [...msg.customCapabilities.capabilities]);
  if (msg.customMessage) host.emit("customMessage", customMessageFromWire(msg.customMessage));
}

/** Instance uids are 16 bytes by the spec: a wrong-sized one is reported and ignored. */
function adoptInstanceUid(uid: Uint8Array, host: MessageHost): void {
  if (uid.length !== 16) {
    host.emit(
      "clientError",
      new TransportError("PROTOCOL_DECODE", `server assigned an instance uid of ${uid.length} bytes; 16 required`),
    );
    return;
  }
  host.adoptInstanceUid(uid);
  host.emit("instanceUid", uid);
}
