/**
 * The OpAMP client: keeps one connection to the server alive, sends status reports with
 * status compression, heartbeats or polls, applies server-assigned uids, and hands server
 * offers to the caller as events. Knows nothing about collectors. This file keeps the
 * connection lifecycle; outbox.ts builds what is sent, dispatch.ts acts on what arrives,
 * and settings-trial.ts keeps the books on trials of new connection settings.
 */
import { EventEmitter } from "node:events";
import { DEFAULT_BACKOFF, backoffDelay, reconnectDelay } from "./backoff.js";
import type { BackoffOptions } from "./backoff.js";
import { AgentCapabilities } from "./codec.js";
import type { ConnectionSettingsRequest, CustomMessage, ServerCapabilities } from "./codec.js";
import type { ConnectionState, ConnectionTarget, OpampClientEvents, OpampClientOptions, TrialResult } from "./client-types.js";
import { openConnection } from "./connect.js";
import { dispatchMessage } from "./dispatch.js";
import type { MessageHost } from "./dispatch.js";
import { Outbox } from "./outbox.js";
import type { StatusKey, StatusValue } from "./report-state.js";
import { SettingsTrials } from "./settings-trial.js";
import type { Trial } from "./settings-trial.js";
import { TransportError, asTransportError } from "./transport.js";
import type { Connection, ConnectionHandlers } from "./transport.js";

export type { ConnectionState, ConnectionTarget, OpampClientEvents, OpampClientOptions, TrialResult } from "./client-types.js";

/** "Wait until woken" without overflowing Node's timer range. */
const FOREVER_MS = 2_000_000_000;

export class OpampClient extends EventEmitter<OpampClientEvents> {
  readonly #options: OpampClientOptions;
  readonly #backoff: BackoffOptions;
  readonly #outbox: Outbox;
  readonly #trials: SettingsTrials;
  #serverCapabilities = 0n;
  #heartbeatMs: number;
  #pollMs: number;
  #lastSentAt = 0;
  #state: ConnectionState = { kind: "idle" };
  #target: ConnectionTarget;
  /** Set when the current connection must end now: "polite" sends agent_disconnect first. */
  #leave: "polite" | "drop" | undefined;
  #attempt: AbortController | undefined;
  #skipBackoff = new AbortController();
  #conn: Connection | undefined;
  #wake = new AbortController();
  #lost: ((err: TransportError) => void) | undefined;
  #run: { controller: AbortController; done: Promise<void> } | undefined;
  #closing: Promise<void> | undefined;
  /** What server messages may do to this client. */
  readonly #messageHost: MessageHost = {
    emit: (event, ...args) => this.emit(event, ...args),
    has: (capability) => this.#outbox.has(capability),
    serverCapabilities: () => this.#serverCapabilities,
    setServerCapabilities: (bits) => (this.#serverCapabilities = bits),
    connectionLost: (error) => this.#lost?.(error),
    adoptInstanceUid: (uid) => this.#outbox.adoptInstanceUid(uid),
    reportFullState: () => {
      this.#outbox.markAllUnsent();
      this.#wakeUp();
    },
    setHeartbeatInterval: (ms) => this.setHeartbeatInterval(ms),
  };

  constructor(options: OpampClientOptions) {
    super();
    this.#options = options;
    this.#target = { endpoint: options.endpoint, ...(options.headers ? { headers: options.headers } : {}), ...(options.tls ? { tls: options.tls } : {}) };
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#outbox = new Outbox({ instanceUid: options.instanceUid, requestInstanceUid: options.requestInstanceUid ?? false, capabilities: options.capabilities });
    this.#trials = new SettingsTrials(options.deps.clock, {
      adopt: (target) => (this.#target = target),
      abandon: (error) => {
        this.#leave = "drop";
        this.#lost?.(error);
      },
    });
    this.#heartbeatMs = options.heartbeatIntervalMs ?? 30_000;
    this.#pollMs = this.#heartbeatMs > 0 ? this.#heartbeatMs : 30_000;
  }

  get state(): ConnectionState {
    return this.#state;
  }
  get instanceUid(): Uint8Array {
    return this.#outbox.instanceUid;
  }
  get serverCapabilities(): bigint {
    return this.#serverCapabilities;
  }
  get capabilities(): bigint {
    return this.#outbox.capabilities;
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
    if (this.#outbox.setStatus(key, value)) this.#wakeUp();
  }

  getStatus<K extends StatusKey>(key: K): StatusValue<K> | undefined {
    return this.#outbox.getStatus(key);
  }

  setCapabilities(bits: bigint): void {
    if (this.#outbox.setCapabilities(bits)) this.#wakeUp();
  }

  /** The local heartbeat/poll period; a server-sent one replaces it later. */
  setHeartbeatInterval(ms: number): void {
    this.#heartbeatMs = ms;
    if (ms > 0) this.#pollMs = ms;
    this.#wakeUp();
  }

  /** Sends a CSR or other connection settings request with the next message. */
  requestConnectionSettings(request: ConnectionSettingsRequest): void {
    this.#outbox.requestConnectionSettings(request);
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
    const result = this.#trials.begin(target, options.timeoutMs);
    this.#switchNow();
    return result;
  }

  /** Queues a custom message; the protocol allows one per AgentToServer. */
  sendCustomMessage(message: CustomMessage): void {
    this.#outbox.queueCustomMessage(message);
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
    this.#trials.cancel("client destroyed");
    this.#run?.controller.abort();
    this.#conn?.destroy();
    this.#conn = undefined;
    this.#closing ??= Promise.resolve();
    this.#setState({ kind: "closed" });
  }

  async #closeGracefully(signal: AbortSignal | undefined): Promise<void> {
    this.#trials.cancel("client closing");
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
        await conn.close(this.#outbox.farewell(), this.#options.closeTimeoutMs ?? 5_000).catch(() => conn.destroy());
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
      const trial = this.#trials.pending;
      const target = trial?.target ?? this.#target;
      this.#leave = undefined;
      this.#setState({ kind: "connecting", attempt: failures });
      const lost = new Promise<TransportError>((resolve) => (this.#lost = resolve));
      const attempt = new AbortController();
      this.#attempt = attempt;
      this.#trials.bind(trial);
      let conn: Connection;
      try {
        const signals = [signal, attempt.signal, ...(trial ? [trial.done.signal] : [])];
        conn = await openConnection(this.#options, target, this.#outbox.instanceUid, this.#handlers(trial), AbortSignal.any(signals));
      } catch (err) {
        this.#trials.unbind();
        if (signal.aborted) break;
        const error = asTransportError(err, "connect failed");
        if (trial) {
          this.#trials.settle(trial, { ok: false, error }); // back to the previous settings at once
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
      if (trial?.settled && this.#trials.pending !== trial && this.#target !== trial.target) this.#leave = "drop";
      const reason = this.#leave
        ? new TransportError("CONNECTION_LOST", "connection settings changed")
        : await Promise.race([lost, this.#sendLoop(conn, AbortSignal.any([signal, connection.signal]))]);
      connection.abort();
      this.#lost = undefined;
      this.#trials.unbind();
      if (signal.aborted) break; // close() or destroy() owns the connection now
      const established = this.#state.kind === "connected";
      this.#conn = undefined;
      if (trial && !trial.settled) {
        this.#trials.settle(trial, { ok: false, error: reason });
        this.#leave = "drop"; // the trial connection failed: back to the previous settings at once
      }
      const leave = this.#leave as "polite" | "drop" | undefined;
      if (leave) {
        // Moving to other settings: say goodbye on a connection that worked, then go at once.
        if (leave === "polite" && established) await conn.close(this.#outbox.disconnect(), 1_000).catch(() => {});
        conn.destroy();
        failures = 0;
        continue;
      }
      // Told to go away over WebSocket: leave politely so the server sees us offline at once.
      if (reason.code === "SERVER_ERROR" && conn.kind === "ws") {
        await conn.close(this.#outbox.disconnect(), 1_000).catch(() => {});
      }
      conn.destroy();
      this.emit("clientError", reason);
      if (established && clock.now() - connectedAt >= (this.#options.stableAfterMs ?? 10_000)) failures = 0;
      const delayMs = reconnectDelay(failures, established, this.#backoff, this.#options.deps.random, reason.retryAfterMs ?? 0);
      failures++;
      if (!(await this.#waitBackoff(failures, delayMs, reason.message, signal))) break;
    }
  }

  /** Per-connection handlers: the first normal reply on a trial connection proves the trial. */
  #handlers(trial: Trial | undefined): ConnectionHandlers {
    return {
      onMessage: (msg) => {
        this.#trials.observe(trial, msg);
        dispatchMessage(msg, this.#messageHost);
      },
      onLost: (e) => this.#lost?.(e),
    };
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
    if (this.#trials.pending) return !signal.aborted; // settings waiting to be tried go first
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
    this.#outbox.markAllUnsent(); // the first message on a connection is a full report
    let first = true;
    for (;;) {
      if (signal.aborted) return new TransportError("CONNECTION_LOST", "connection stopped");
      const interval = this.#heartbeatFor(conn.kind);
      const dueAt = this.#lastSentAt + interval;
      if (first || this.#outbox.hasWork || (interval > 0 && clock.now() >= dueAt)) {
        const { msg, restore } = this.#outbox.build();
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
    return this.#outbox.has(AgentCapabilities.AgentCapabilities_ReportsHeartbeat) ? this.#heartbeatMs : 0;
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
