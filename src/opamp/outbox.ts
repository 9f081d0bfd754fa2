/**
 * What the agent tells the server: its identity and capabilities, its status sub-messages
 * (compressed by `ReportState`) and queued requests. Builds each AgentToServer; when and
 * over which connection it goes is the client's business.
 */
import { create } from "@bufbuild/protobuf";
import { AgentCapabilities, AgentToServerFlags, AvailableComponentsSchema } from "../gen/opamp_pb.js";
import type { AgentToServer, AvailableComponents, ConnectionSettingsRequest, CustomMessage } from "../gen/opamp_pb.js";
import { newAgentToServer } from "./codec.js";
import { hasAgentCapability } from "./convert.js";
import type { AgentCapability, StatusKey } from "./domain.js";
import { ReportState } from "./report-state.js";
import type { WireStatus } from "./report-state.js";

/** Capability bits this protocol version defines; anything else is sent as 0. */
const KNOWN_CAPABILITY_BITS = 0xffffn;

export interface OutboxOptions {
  /** 16 bytes. */
  instanceUid: Uint8Array;
  /** Ask the server to assign a uid until it does. */
  requestInstanceUid: boolean;
  capabilities: bigint;
}

export class Outbox {
  readonly #report = new ReportState();
  #instanceUid: Uint8Array;
  #requestUid: boolean;
  #capabilities: bigint;
  #sequenceNum = 0n;
  #capabilitiesChanged = false;
  #pendingCsr: ConnectionSettingsRequest | undefined;
  /**
   * AvailableComponents with the map. The report state holds only its hash: the spec sends
   * the hash in every AvailableComponents (first message, on change, full state) and the
   * map only when the server asked for it with ReportAvailableComponents.
   */
  #components: AvailableComponents | undefined;
  #componentsRequested = false;
  readonly #customMessages: CustomMessage[] = [];

  constructor(options: OutboxOptions) {
    if (options.instanceUid.length !== 16) throw new RangeError("instance uid must be 16 bytes");
    this.#instanceUid = options.instanceUid;
    this.#requestUid = options.requestInstanceUid;
    this.#capabilities = normalizeCapabilities(options.capabilities);
  }

  get instanceUid(): Uint8Array {
    return this.#instanceUid;
  }
  get capabilities(): bigint {
    return this.#capabilities;
  }

  has(capability: AgentCapability): boolean {
    return hasAgentCapability(this.#capabilities, capability);
  }

  /** Something not yet sent is waiting. */
  get hasWork(): boolean {
    return (
      this.#report.hasUnsent ||
      this.#componentsRequested ||
      this.#capabilitiesChanged ||
      this.#pendingCsr !== undefined ||
      this.#customMessages.length > 0
    );
  }

  /** Returns true when the value changed and so must be sent (status compression). */
  setStatus<K extends StatusKey>(key: K, value: WireStatus<K>): boolean {
    if (key === "availableComponents") {
      const full = value as WireStatus<"availableComponents">;
      this.#components = full;
      return this.#report.set("availableComponents", create(AvailableComponentsSchema, { hash: full.hash }));
    }
    return this.#report.set(key, value);
  }

  /** The server set ReportAvailableComponents: the next message carries the full map. */
  requestAvailableComponents(): boolean {
    if (!this.#components || !this.has("reportsAvailableComponents")) return false;
    this.#componentsRequested = true;
    return true;
  }

  getStatus<K extends StatusKey>(key: K): WireStatus<K> | undefined {
    return this.#report.get(key);
  }

  /** Everything known goes out again: on a new connection and on ReportFullState. */
  markAllUnsent(): void {
    this.#report.markAllUnsent();
  }

  /** Returns true when the bits changed and so must be sent. */
  setCapabilities(bits: bigint): boolean {
    const next = normalizeCapabilities(bits);
    if (next === this.#capabilities) return false;
    const componentsOn =
      !hasAgentCapability(this.#capabilities, "reportsAvailableComponents") &&
      hasAgentCapability(next, "reportsAvailableComponents");
    this.#capabilities = next;
    // Held back while the bit was off (see build): the server hears the hash now.
    if (componentsOn) this.#report.markUnsent("availableComponents");
    this.#capabilitiesChanged = true; // a status change like any other: the server must hear it
    return true;
  }

  /** The server assigned a uid: use it from now on and stop asking for one. */
  adoptInstanceUid(uid: Uint8Array): void {
    this.#instanceUid = uid;
    this.#requestUid = false;
  }

  requestConnectionSettings(request: ConnectionSettingsRequest): void {
    this.#pendingCsr = request;
  }

  /** The protocol allows one custom message per AgentToServer, so they queue. */
  queueCustomMessage(message: CustomMessage): void {
    this.#customMessages.push(message);
  }

  /** The next message with everything pending; `restore` puts it back if the send fails. */
  build(): { msg: AgentToServer; restore: () => void } {
    const msg = newAgentToServer({
      instanceUid: this.#instanceUid,
      sequenceNum: this.#sequenceNum++,
      capabilities: this.#capabilities,
      flags: this.#requestUid ? BigInt(AgentToServerFlags.AgentToServerFlags_RequestInstanceUid) : 0n,
    });
    const keys = this.#report.fill(msg);
    const componentsRequested = this.#componentsRequested;
    this.#componentsRequested = false;
    // Sent iff the capability is advertised (spec); the full map only when asked for.
    if (!this.has("reportsAvailableComponents")) msg.availableComponents = undefined;
    else if (componentsRequested && this.#components) msg.availableComponents = this.#components;
    const csr = this.#pendingCsr;
    const custom = this.#customMessages.shift();
    if (csr) msg.connectionSettingsRequest = csr;
    if (custom) msg.customMessage = custom;
    this.#pendingCsr = undefined;
    const capabilitiesChanged = this.#capabilitiesChanged;
    this.#capabilitiesChanged = false;
    const restore = (): void => {
      this.#report.restore(keys);
      this.#componentsRequested ||= componentsRequested;
      this.#capabilitiesChanged ||= capabilitiesChanged;
      this.#pendingCsr ??= csr;
      if (custom) this.#customMessages.unshift(custom);
    };
    return { msg, restore };
  }

  /** The last message of a polite close: everything pending, plus agent_disconnect. */
  farewell(): AgentToServer {
    const last = this.build().msg;
    last.agentDisconnect = newAgentToServer({ agentDisconnect: {} }).agentDisconnect;
    return last;
  }

  /** A bare agent_disconnect, for leaving a connection that is being replaced. */
  disconnect(): AgentToServer {
    return newAgentToServer({
      instanceUid: this.#instanceUid,
      sequenceNum: this.#sequenceNum++,
      capabilities: this.#capabilities,
      agentDisconnect: {},
    });
  }
}

function normalizeCapabilities(bits: bigint): bigint {
  return (bits | BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus)) & KNOWN_CAPABILITY_BITS;
}
