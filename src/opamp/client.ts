/**
 * The OpAMP client: keeps one connection to the server alive, sends status reports with
 * status compression, heartbeats or polls, applies server-assigned uids, and hands server
 * offers to the caller as events. Knows nothing about collectors.
 */
import { EventEmitter } from "node:events";
import { DEFAULT_BACKOFF, backoffDelay } from "./backoff.js";
import type { BackoffOptions } from "./backoff.js";
import {
  AgentCapabilities,
  AgentToServerFlags,
  ServerCapabilities,
  ServerErrorResponseType,
  ServerToAgentFlags,
  newAgentToServer,
} from "./codec.js";
import type { AgentToServer, ConnectionSettingsRequest, CustomMessage, ServerToAgent } from "./codec.js";
import type { ConnectionState, ConnectionTarget, OpampClientEvents, OpampClientOptions, TrialResult } from "./client-types.js";
import { openConnection } from "./connect.js";
import { ReportState } from "./report-state.js";
import type { StatusKey, StatusValue } from "./report-state.js";
import { TransportError, asTransportError } from "./transport.js";
import type { Connection, ConnectionHandlers } from "./transport.js";

export type { ConnectionState, ConnectionTarget, OpampClientEvents, OpampClientOptions, TrialResult } from "./client-types.js";

/** Capability bits this protocol version defines; anything else is sent as 0. */
const KNOWN_CAPABILITY_BITS = 0xffffn;
/** "Wait until woken" without overflowing Node's timer range. */
const FOREVER_MS = 2_000_000_000;

/** New connection settings being proven by a real connection (see trySettings). */
interface Trial {
  readonly target: ConnectionTarget;
  readonly resolve: (result: TrialResult) => void;
  /** Aborted once the trial is decided: stops its timer and a connect still in flight. */
  readonly done: AbortController;
  settled: boolean;
}

export class OpampClient extends EventEmitter<OpampClientEvents> {
  readonly #options: OpampClientOptions;
  readonly #backoff: BackoffOptions;
  readonly #report = new ReportState();
  #instanceUid: Uint8Array;
  #requestUid: boolean;
  #capabilities: bigint;
  #serverCapabilities = 0n;
  #sequenceNum = 0n;
  #heartbeatMs: number;
  #pollMs: number;
  #lastSentAt = 0;
  #pendingCsr: ConnectionSettingsRequest | undefined;
  #capabilitiesChanged = false;
  readonly #customMessages: CustomMessage[] = [];
  #state: ConnectionState = { kind: "idle" };
  #target: ConnectionTarget;
  #trial: Trial | undefined;
  /** The trial the live connection (or connect attempt) belongs to. */
  #connTrial: Trial | undefined;
  /** Set when the current connection must end now: "polite" sends agent_disconnect first. */
  #leave: "polite" | "drop" | undefined;
  #attempt: AbortController | undefined;
  #skipBackoff = new AbortController();
  #conn: Connection | undefined;
  #wake = new AbortController();
  #lost: ((err: TransportError) => void) | undefined;
  #run: { controller: AbortController; done: Promise<void> } | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: OpampClientOptions) {
    super();
    this.#options = options;
    this.#target = { endpoint: options.endpoint, ...(options.headers ? { headers: options.headers } : {}), ...(options.tls ? { tls: options.tls } : {}) };
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    if (options.instanceUid.length !== 16) throw new RangeError("instance uid must be 16 bytes");
    this.#instanceUid = options.instanceUid;
    this.#requestUid = options.requestInstanceUid ?? false;
    this.#capabilities = normalizeCapabilities(options.capabilities);
    this.#heartbeatMs = options.heartbeatIntervalMs ?? 30_000;
    this.#pollMs = this.#heartbeatMs > 0 ? this.#heartbeatMs : 30_000;
  }

  get state(): ConnectionState {
    return this.#state;
  }
  get instanceUid(): Uint8Array {
    return this.#instanceUid;
  }
  get serverCapabilities(): bigint {
    return this.#serverCapabilities;
  }
  get capabilities(): bigint {
    return this.#capabilities;
  }
  /** The connection settings in force (a trial's settings count only once proven). */
  get target(): ConnectionTarget {
    return this.#target;
  }

  /** Starts connecting; retries forever until close() or destroy(). */
  start(): void {
    if (this.#run || this.#closing) return;
    const controller = new AbortController();
    this.#run = { controller, done: this.#connectLoop(controller.signal) };
  }

  /** Sets a status sub-message; it is sent only if it changed (status compression). */
  setStatus<K extends StatusKey>(key: K, value: StatusValue<K>): void {
    if (this.#report.set(key, value)) this.#wakeUp();
  }

  getStatus<K extends StatusKey>(key: K): StatusValue<K> | undefined {
    return this.#report.get(key);
  }

  setCapabilities(bits: bigint): void {
    const next = normalizeCapabilities(bits);
    if (next === this.#capabilities) return;
    this.#capabilities = next;
    this.#capabilitiesChanged = true; // a status change like any other: the server must hear it
    this.#wakeUp();
  }

  /** The local heartbeat/poll period; a server-sent one replaces it later. */
  setHeartbeatInterval(ms: number): void {
    this.#heartbeatMs = ms;
    if (ms > 0) this.#pollMs = ms;
    this.#wakeUp();
  }

  /** Sends a CSR or other connection settings request with the next message. */
  requestConnectionSettings(request: ConnectionSettingsRequest): void {
    this.#pendingCsr = request;
    this.#wakeUp();
  }

  /**
   * Proves `target` by connecting with it: the current connection is closed politely
   * (agent_disconnect), a new one is opened with `target`, and the first normal reply from
   * the server proves it. Then `target` stays in force. If the connect fails, the server
   * answers with an error, or no reply arrives within `timeoutMs`, the previous settings
   * are restored and the client reconnects with them at once.
   */
  trySettings(target: ConnectionTarget, options: { timeoutMs: number }): Promise<TrialResult> {
    if (!this.#run || this.#closing) {
      return Promise.resolve({ ok: false, error: new TransportError("CONNECTION_FAILED", "the OpAMP client is not running", { retrySameRequest: false }) });
    }
    if (this.#trial) this.#settleTrial(this.#trial, { ok: false, error: new TransportError("CONNECTION_FAILED", "superseded by newer settings") });
    return new Promise((resolve) => {
      const trial: Trial = { target, resolve, done: new AbortController(), settled: false };
      this.#trial = trial;
      this.#options.deps.clock.sleep(options.timeoutMs, trial.done.signal).then(
        () => {
          const error = new TransportError("CONNECTION_FAILED", `no answer from ${hostOf(target.endpoint)} within ${options.timeoutMs} ms`);
          this.#settleTrial(trial, { ok: false, error });
        },
        () => undefined,
      );
      this.#switchNow();
    });
  }

  /** Queues a custom message; the protocol allows one per AgentToServer. */
  sendCustomMessage(message: CustomMessage): void {
    this.#customMessages.push(message);
    this.#wakeUp();
  }

  /**
   * Polite close: sends agent_disconnect, closes the connection, stops reconnecting.
   * Idempotent. If `signal` aborts first, the connection is dropped instead.
   */
  close(signal?: AbortSignal): Promise<void> {
    this.#closing ??= this.#closeGracefully(signal);
    return this.#closing;
  }

  /** Drops everything at once, without agent_disconnect. Idempotent. */
  destroy(): void {
    if (this.#trial) this.#settleTrial(this.#trial, { ok: false, error: new TransportError("CONNECTION_FAILED", "client destroyed") });
    this.#run?.controller.abort();
    this.#conn?.destroy();
    this.#conn = undefined;
    this.#closing ??= Promise.resolve();
    this.#setState({ kind: "closed" });
  }

  async #closeGracefully(signal: AbortSignal | undefined): Promise<void> {
    if (this.#trial) this.#settleTrial(this.#trial, { ok: false, error: new TransportError("CONNECTION_FAILED", "client closing") });
    const wasConnected = this.#state.kind === "connected";
    const run = this.#run;
    run?.controller.abort();
    await run?.done;
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn) {
      const onAbort = (): void => conn.destroy();
      signal?.addEventListener("abort", onAbort, { once: true });
      if (wasConnected && !signal?.aborted) {
        const last = this.#buildMessage().msg;
        last.agentDisconnect = newAgentToServer({ agentDisconnect: {} }).agentDisconnect;
        await conn.close(last, this.#options.closeTimeoutMs ?? 5_000).catch(() => conn.destroy());
      } else {
        conn.destroy();
      }
      signal?.removeEventListener("abort", onAbort);
    }
    this.#setState({ kind: "closed" });
  }

  async #connectLoop(signal: AbortSignal): Promise<void> {
    const { clock } = this.#options.deps;
    let failures = 0;
    while (!signal.aborted) {
      const trial = this.#trial;
      const target = trial?.target ?? this.#target;
      this.#leave = undefined;
      this.#setState({ kind: "connecting", attempt: failures });
      const lost = new Promise<TransportError>((resolve) => (this.#lost = resolve));
      const attempt = new AbortController();
      this.#attempt = attempt;
      this.#connTrial = trial;
      let conn: Connection;
      try {
        const signals = [signal, attempt.signal, ...(trial ? [trial.done.signal] : [])];
        conn = await openConnection(this.#options, target, this.#instanceUid, this.#handlers(trial), AbortSignal.any(signals));
      } catch (err) {
        this.#connTrial = undefined;
        if (signal.aborted) break;
        const error = asTransportError(err, "connect failed");
        if (trial) {
          this.#settleTrial(trial, { ok: false, error }); // back to the previous settings at once
          continue;
        }
        if (attempt.signal.aborted) continue; // new settings to try: no backoff
        this.emit("clientError", error);
        const delayMs = backoffDelay(failures, this.#backoff, this.#options.deps.random, error.retryAfterMs ?? 0);
        failures++;
        if (!(await this.#waitBackoff(failures, delayMs, error.message, signal))) break;
        continue;
      }
      this.#conn = conn;
      const connectedAt = clock.now();
      const connection = new AbortController();
      // A trial decided while the connect was in flight, or a switch requested meanwhile.
      if (trial?.settled && this.#trial !== trial && this.#target !== trial.target) this.#leave = "drop";
      const reason = this.#leave
        ? new TransportError("CONNECTION_LOST", "connection settings changed")
        : await Promise.race([lost, this.#sendLoop(conn, AbortSignal.any([signal, connection.signal]))]);
      connection.abort();
      this.#lost = undefined;
      this.#connTrial = undefined;
      if (signal.aborted) break; // close() or destroy() owns the connection now
      const established = this.#state.kind === "connected";
      this.#conn = undefined;
      if (trial && !trial.settled) {
        this.#settleTrial(trial, { ok: false, error: reason });
        this.#leave = "drop"; // the trial connection failed: back to the previous settings at once
      }
      const leave = this.#leave as "polite" | "drop" | undefined;
      if (leave) {
        // Moving to other settings: say goodbye on a connection that worked, then go at once.
        if (leave === "polite" && established) await conn.close(this.#disconnectMessage(), 1_000).catch(() => {});
        conn.destroy();
        failures = 0;
        continue;
      }
      // Told to go away over WebSocket: leave politely so the server sees us offline at once.
      if (reason.code === "SERVER_ERROR" && conn.kind === "ws") {
        await conn.close(this.#disconnectMessage(), 1_000).catch(() => {});
      }
      conn.destroy();
      this.emit("clientError", reason);
      if (established && clock.now() - connectedAt >= (this.#options.stableAfterMs ?? 10_000)) failures = 0;
      const floor = reason.retryAfterMs ?? 0;
      // A connection that had been fine is retried at once; a flapping or failed one backs off.
      const immediate = established && failures === 0 && floor === 0;
      // "At once" is spread over up to one initial delay, so a server restart is not met
      // by its whole fleet in the same instant.
      const delayMs = immediate
        ? Math.round(this.#backoff.initialMs * this.#options.deps.random())
        : backoffDelay(failures, this.#backoff, this.#options.deps.random, floor);
      failures++;
      if (!(await this.#waitBackoff(failures, delayMs, reason.message, signal))) break;
    }
  }

  /** Per-connection handlers: the first normal reply on a trial connection proves the trial. */
  #handlers(trial: Trial | undefined): ConnectionHandlers {
    return {
      onMessage: (msg) => {
        if (trial && !trial.settled && this.#connTrial === trial) {
          const error = msg.errorResponse;
          this.#settleTrial(
            trial,
            error
              ? { ok: false, error: new TransportError("SERVER_ERROR", `server answered with an error: ${error.errorMessage || ServerErrorResponseType[error.type]}`) }
              : { ok: true },
          );
        }
        this.#onMessage(msg);
      },
      onLost: (e) => this.#lost?.(e),
    };
  }

  /** Decides a trial once. Success makes its target the one in force; failure ends its connection. */
  #settleTrial(trial: Trial, result: TrialResult): void {
    if (trial.settled) return;
    trial.settled = true;
    trial.done.abort();
    if (this.#trial === trial) this.#trial = undefined;
    if (result.ok) {
      this.#target = trial.target;
    } else if (this.#connTrial === trial) {
      this.#leave = "drop";
      this.#lost?.(result.error);
    }
    trial.resolve(result);
  }

  /** Ends the current connection, connect attempt or backoff wait so the loop picks up new settings. */
  #switchNow(): void {
    if (this.#conn) {
      this.#leave = "polite";
      this.#lost?.(new TransportError("CONNECTION_LOST", "switching to new connection settings"));
    } else {
      this.#attempt?.abort();
    }
    const skip = this.#skipBackoff;
    this.#skipBackoff = new AbortController();
    skip.abort();
  }

  async #waitBackoff(attempt: number, delayMs: number, reason: string, signal: AbortSignal): Promise<boolean> {
    this.#setState({ kind: "backoff", attempt, delayMs, reason });
    if (this.#trial) return !signal.aborted; // settings waiting to be tried go first
    try {
      await this.#options.deps.clock.sleep(delayMs, AbortSignal.any([signal, this.#skipBackoff.signal]));
    } catch {
      // aborted: either shutting down, or new settings to try now
    }
    return !signal.aborted;
  }

  /** Sends whatever is pending, heartbeats when idle; returns why the connection ended. */
  async #sendLoop(conn: Connection, signal: AbortSignal): Promise<TransportError> {
    const { clock } = this.#options.deps;
    this.#report.markAllUnsent(); // the first message on a connection is a full report
    let first = true;
    for (;;) {
      if (signal.aborted) return new TransportError("CONNECTION_LOST", "connection stopped");
      const interval = this.#heartbeatFor(conn.kind);
      const dueAt = this.#lastSentAt + interval;
      if (first || this.#hasWork() || (interval > 0 && clock.now() >= dueAt)) {
        const { msg, restore } = this.#buildMessage();
        try {
          await conn.send(msg, signal);
          this.#lastSentAt = clock.now();
        } catch (err) {
          if (signal.aborted) return new TransportError("CONNECTION_LOST", "connection stopped");
          const error = asTransportError(err, "send failed");
          if (error.retrySameRequest) {
            restore();
            return error;
          }
          this.emit("clientError", error); // e.g. HTTP 413: this content must not be sent again
          continue;
        }
        if (first) this.#setState({ kind: "connected", transport: conn.kind, since: clock.now() });
        first = false;
        continue;
      }
      const wake = this.#wake.signal;
      await clock.sleep(interval > 0 ? dueAt - clock.now() : FOREVER_MS, AbortSignal.any([signal, wake])).catch(() => {});
    }
  }

  #heartbeatFor(kind: "ws" | "http"): number {
    if (kind === "http") return this.#pollMs; // an HTTP client that never polls never hears anything
    return this.#capabilities & BigInt(AgentCapabilities.AgentCapabilities_ReportsHeartbeat) ? this.#heartbeatMs : 0;
  }

  #hasWork(): boolean {
    return this.#report.hasUnsent || this.#capabilitiesChanged || this.#pendingCsr !== undefined || this.#customMessages.length > 0;
  }

  #buildMessage(): { msg: AgentToServer; restore: () => void } {
    const msg = newAgentToServer({
      instanceUid: this.#instanceUid,
      sequenceNum: this.#sequenceNum++,
      capabilities: this.#capabilities,
      flags: this.#requestUid ? BigInt(AgentToServerFlags.AgentToServerFlags_RequestInstanceUid) : 0n,
    });
    const keys = this.#report.fill(msg);
    const csr = this.#pendingCsr;
    const custom = this.#customMessages.shift();
    if (csr) msg.connectionSettingsRequest = csr;
    if (custom) msg.customMessage = custom;
    this.#pendingCsr = undefined;
    const capabilitiesChanged = this.#capabilitiesChanged;
    this.#capabilitiesChanged = false;
    const restore = (): void => {
      this.#report.restore(keys);
      this.#capabilitiesChanged ||= capabilitiesChanged;
      this.#pendingCsr ??= csr;
      if (custom) this.#customMessages.unshift(custom);
    };
    return { msg, restore };
  }

  #disconnectMessage(): AgentToServer {
    return newAgentToServer({
      instanceUid: this.#instanceUid,
      sequenceNum: this.#sequenceNum++,
      capabilities: this.#capabilities,
      agentDisconnect: {},
    });
  }

  #onMessage(msg: ServerToAgent): void {
    this.emit("message", msg);
    const error = msg.errorResponse;
    if (error) {
      const retryNs = error.Details.case === "retryInfo" ? error.Details.value.retryAfterNanoseconds : undefined;
      const unavailable = error.type === ServerErrorResponseType.ServerErrorResponseType_Unavailable;
      const failure = new TransportError("SERVER_ERROR", `server error: ${error.errorMessage || ServerErrorResponseType[error.type]}`, {
        ...(retryNs !== undefined ? { retryAfterMs: Number(retryNs / 1_000_000n) } : {}),
      });
      if (unavailable) this.#lost?.(failure); // disconnect, wait, reconnect
      else this.emit("clientError", failure); // BadRequest/Unknown: do not resend that message
      return;
    }
    if (msg.capabilities !== 0n && msg.capabilities !== this.#serverCapabilities) {
      this.#serverCapabilities = msg.capabilities;
      this.emit("serverCapabilities", msg.capabilities);
    }
    const newUid = msg.agentIdentification?.newInstanceUid;
    if (newUid) this.#adoptInstanceUid(newUid);
    if (msg.command) {
      // A command stands alone: every other field of this message is ignored.
      if (this.#has(AgentCapabilities.AgentCapabilities_AcceptsRestartCommand)) this.emit("command", msg.command);
      return;
    }
    if (msg.flags & BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportFullState)) {
      this.#report.markAllUnsent();
      this.#wakeUp();
    }
    if (msg.remoteConfig && this.#has(AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig)) {
      this.emit("remoteConfig", msg.remoteConfig);
    }
    if (msg.connectionSettings) {
      const seconds = msg.connectionSettings.opamp?.heartbeatIntervalSeconds;
      if (seconds !== undefined && this.#has(AgentCapabilities.AgentCapabilities_ReportsHeartbeat)) {
        this.setHeartbeatInterval(Number(seconds) * 1000);
      }
      this.emit("connectionSettings", msg.connectionSettings);
    }
    if (msg.packagesAvailable && this.#has(AgentCapabilities.AgentCapabilities_AcceptsPackages)) {
      this.emit("packagesAvailable", msg.packagesAvailable);
    }
    if (msg.customCapabilities) this.emit("customCapabilities", msg.customCapabilities);
    if (msg.customMessage) this.emit("customMessage", msg.customMessage);
  }

  #adoptInstanceUid(uid: Uint8Array): void {
    if (uid.length !== 16) {
      this.emit("clientError", new TransportError("PROTOCOL_DECODE", `server assigned an instance uid of ${uid.length} bytes; 16 required`));
      return;
    }
    this.#instanceUid = uid;
    this.#requestUid = false;
    this.emit("instanceUid", uid);
  }

  #has(capability: AgentCapabilities): boolean {
    return (this.#capabilities & BigInt(capability)) !== 0n;
  }

  #wakeUp(): void {
    const previous = this.#wake;
    this.#wake = new AbortController();
    previous.abort();
  }

  #setState(state: ConnectionState): void {
    if (this.#state.kind === "closed") return;
    this.#state = state;
    this.emit("state", state);
  }
}

/** Server capability check for callers (e.g. CSR only when the server accepts it). */
export function serverHas(bits: bigint, capability: ServerCapabilities): boolean {
  return (bits & BigInt(capability)) !== 0n;
}

function normalizeCapabilities(bits: bigint): bigint {
  return (bits | BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus)) & KNOWN_CAPABILITY_BITS;
}

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return endpoint;
  }
}
