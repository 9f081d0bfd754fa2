/**
 * The OpAMP client: keeps one connection to the server alive, sends status reports with
 * status compression, heartbeats or polls, applies server-assigned uids, and hands server
 * offers to the caller as events, in the domain types of domain.ts. Knows nothing about
 * collectors. This file keeps the connection lifecycle (a union it switches on); outbox.ts
 * builds what is sent, dispatch.ts acts on what arrives, convert.ts maps domain <-> wire,
 * and settings-trial.ts keeps the books on trials of new connection settings.
 */
import { EventEmitter } from "node:events";
import { DEFAULT_BACKOFF, backoffDelay, reconnectDelay } from "./backoff.js";
import type { BackoffOptions } from "./backoff.js";
import type {
  ConnectionState,
  ConnectionTarget,
  OpampClientEvents,
  OpampClientOptions,
  TrialResult,
} from "./client-types.js";
import { openConnection } from "./connect.js";
import { certificateRequestToWire, customMessageToWire, hasServerCapability, statusToWire } from "./convert.js";
import { dispatchMessage } from "./dispatch.js";
import type { MessageHost } from "./dispatch.js";
import type { CertificateRequest, CustomMessage, ServerCapability, StatusKey, Statuses } from "./domain.js";
import { Outbox } from "./outbox.js";
import { connectionOf, newSession, publicState, sessionOf } from "./lifecycle.js";
import type { Phase, Session } from "./lifecycle.js";
import { SettingsTrials } from "./settings-trial.js";
import { TransportError, asTransportError } from "./transport.js";
import type { Connection, ConnectionHandlers } from "./transport.js";

export type {
  ConnectMaterial,
  ConnectionState,
  ConnectionTarget,
  OpampClientEvents,
  OpampClientOptions,
  TrialResult,
} from "./client-types.js";

/** "Wait until woken" without overflowing Node's timer range. */
const FOREVER_MS = 2_000_000_000;

export class OpampClient<T extends ConnectionTarget = ConnectionTarget> extends EventEmitter<OpampClientEvents> {
  readonly #options: OpampClientOptions<T>;
  readonly #backoff: BackoffOptions;
  readonly #outbox: Outbox;
  readonly #trials: SettingsTrials<T>;
  /** What the caller set, for `getStatus` (the outbox holds the wire form). */
  readonly #statuses: Partial<Statuses> = {};
  #serverCapabilities = 0n;
  #heartbeatMs: number;
  #pollMs: number;
  #target: T;
  #phase: Phase<T> = { kind: "idle" };
  #run: { controller: AbortController; done: Promise<void> } | undefined;
  #closing: Promise<void> | undefined;
  /** What server messages may do to this client. */
  readonly #messageHost: MessageHost = {
    emit: (event, ...args) => this.emit(event, ...args),
    has: (capability) => this.#outbox.has(capability),
    serverCapabilities: () => this.#serverCapabilities,
    setServerCapabilities: (bits) => (this.#serverCapabilities = bits),
    connectionLost: (error) => sessionOf(this.#phase)?.end(error),
    adoptInstanceUid: (uid) => this.#outbox.adoptInstanceUid(uid),
    reportFullState: () => {
      this.#outbox.markAllUnsent();
      this.#wakeUp();
    },
    reportAvailableComponents: () => {
      if (this.#outbox.requestAvailableComponents()) this.#wakeUp();
    },
    setHeartbeatInterval: (ms) => this.setHeartbeatInterval(ms),
  };

  constructor(options: OpampClientOptions<T>) {
    super();
    this.#options = options;
    this.#target = options.target;
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#outbox = new Outbox({
      instanceUid: options.instanceUid,
      requestInstanceUid: options.requestInstanceUid ?? false,
      capabilities: options.capabilities,
    });
    this.#trials = new SettingsTrials<T>(options.deps.clock, {
      adopt: (target) => (this.#target = target),
      abandon: (error) => {
        const session = sessionOf(this.#phase);
        if (!session) return;
        session.leave = "drop";
        session.end(error);
      },
    });
    this.#heartbeatMs = options.heartbeatIntervalMs ?? 30_000;
    this.#pollMs = this.#heartbeatMs > 0 ? this.#heartbeatMs : 30_000;
  }

  get state(): ConnectionState {
    return publicState(this.#phase);
  }
  get instanceUid(): Uint8Array {
    return this.#outbox.instanceUid;
  }
  get serverCapabilities(): bigint {
    return this.#serverCapabilities;
  }
  /** Whether the server last announced `capability`. */
  serverAccepts(capability: ServerCapability): boolean {
    return hasServerCapability(this.#serverCapabilities, capability);
  }
  get capabilities(): bigint {
    return this.#outbox.capabilities;
  }
  /** The connection settings in force (a trial's settings count only once proven). */
  get target(): T {
    return this.#target;
  }

  /** Starts connecting; retries forever until close() or destroy(). */
  start(): void {
    if (this.#run || this.#closing) return;
    const controller = new AbortController();
    this.#run = { controller, done: this.#connectLoop(controller.signal) };
  }

  /** Sets a status sub-message; it is sent only if it changed (status compression). */
  setStatus<K extends StatusKey>(key: K, value: Statuses[K]): void {
    this.#statuses[key] = value;
    if (this.#outbox.setStatus(key, statusToWire(key, value))) this.#wakeUp();
  }

  getStatus<K extends StatusKey>(key: K): Statuses[K] | undefined {
    return this.#statuses[key];
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

  /** Sends a certificate signing request with the next message. */
  requestConnectionSettings(request: CertificateRequest): void {
    this.#outbox.requestConnectionSettings(certificateRequestToWire(request));
    this.#wakeUp();
  }

  /**
   * Proves `target` by connecting with it: the current connection is closed politely
   * (agent_disconnect), a new one is opened with `target`, and the first normal reply from
   * the server proves it. Then `target` stays in force. If the connect fails, the server
   * answers with an error, or no reply arrives within `timeoutMs`, the previous settings
   * are restored and the client reconnects with them at once.
   */
  trySettings(target: T, options: { timeoutMs: number }): Promise<TrialResult> {
    if (!this.#run || this.#closing) {
      return Promise.resolve({
        ok: false,
        error: new TransportError("CONNECTION_FAILED", "the OpAMP client is not running", { retrySameRequest: false }),
      });
    }
    const result = this.#trials.begin(target, options.timeoutMs);
    this.#switchNow();
    return result;
  }

  /** Queues a custom message; the protocol allows one per AgentToServer. */
  sendCustomMessage(message: CustomMessage): void {
    this.#outbox.queueCustomMessage(customMessageToWire(message));
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
    connectionOf(this.#phase)?.destroy();
    this.#closing ??= Promise.resolve();
    this.#enter({ kind: "closed" });
  }

  async #closeGracefully(signal: AbortSignal | undefined): Promise<void> {
    this.#trials.cancel("client closing");
    const wasConnected = this.#phase.kind === "connected";
    const run = this.#run;
    run?.controller.abort();
    await run?.done;
    // The loop stops without touching the connection: it is closed here.
    const conn = connectionOf(this.#phase);
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
    this.#enter({ kind: "closed" });
  }

  async #connectLoop(signal: AbortSignal): Promise<void> {
    const { clock } = this.#options.deps;
    let failures = 0;
    while (!signal.aborted) {
      const trial = this.#trials.pending;
      const target = trial?.target ?? this.#target;
      const { session, lost } = newSession(trial);
      this.#enter({ kind: "connecting", attempt: failures, session });
      this.#trials.bind(trial);
      let conn: Connection;
      try {
        const signals = [signal, session.abort.signal, ...(trial ? [trial.done.signal] : [])];
        conn = await openConnection(
          this.#options,
          target,
          this.#outbox.instanceUid,
          this.#handlers(session),
          AbortSignal.any(signals),
        );
      } catch (err) {
        this.#trials.unbind();
        if (signal.aborted) break;
        const error = asTransportError(err, "connect failed");
        if (trial) {
          this.#trials.settle(trial, { ok: false, error }); // back to the previous settings at once
          continue;
        }
        if (session.abort.signal.aborted) continue; // new settings to try: no backoff
        this.emit("clientError", error);
        const delayMs = backoffDelay(failures, this.#backoff, this.#options.deps.random, error.retryAfterMs ?? 0);
        failures++;
        if (!(await this.#waitBackoff(failures, delayMs, error.message, signal))) break;
        continue;
      }
      this.#enter({ kind: "open", attempt: failures, session, conn });
      const openedAt = clock.now();
      // A trial decided while the connect was in flight, or a switch requested meanwhile.
      if (trial?.settled && this.#trials.pending !== trial && this.#target !== trial.target) session.leave = "drop";
      if (session.abort.signal.aborted) session.leave ??= "drop";
      const stop = new AbortController();
      const reason = session.leave
        ? new TransportError("CONNECTION_LOST", "connection settings changed")
        : await Promise.race([lost, this.#sendLoop(session, conn, AbortSignal.any([signal, stop.signal]))]);
      stop.abort();
      this.#trials.unbind();
      if (signal.aborted) break; // close() or destroy() owns the connection now
      const established = this.#phase.kind === "connected";
      if (trial && !trial.settled) {
        this.#trials.settle(trial, { ok: false, error: reason });
        session.leave = "drop"; // the trial connection failed: back to the previous settings at once
      }
      const leave = session.leave;
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
      if (established && clock.now() - openedAt >= (this.#options.stableAfterMs ?? 10_000)) failures = 0;
      const delayMs = reconnectDelay(
        failures,
        established,
        this.#backoff,
        this.#options.deps.random,
        reason.retryAfterMs ?? 0,
      );
      failures++;
      if (!(await this.#waitBackoff(failures, delayMs, reason.message, signal))) break;
    }
  }

  /** Per-connection handlers: the first normal reply on a trial connection proves the trial. */
  #handlers(session: Session<T>): ConnectionHandlers {
    return {
      onMessage: (msg) => {
        this.#trials.observe(session.trial, msg);
        dispatchMessage(msg, this.#messageHost);
      },
      onLost: (e) => session.end(e),
    };
  }

  /** Ends the current connection, connect attempt or backoff wait so the loop picks up new settings. */
  #switchNow(): void {
    const p = this.#phase;
    switch (p.kind) {
      case "connecting":
        p.session.abort.abort();
        return;
      case "open":
      case "connected":
        p.session.leave = "polite";
        p.session.end(new TransportError("CONNECTION_LOST", "switching to new connection settings"));
        return;
      case "backoff":
        p.skip.abort();
        return;
      case "idle":
      case "closed":
        return;
    }
  }

  async #waitBackoff(attempt: number, delayMs: number, reason: string, signal: AbortSignal): Promise<boolean> {
    const skip = new AbortController();
    this.#enter({ kind: "backoff", attempt, delayMs, reason, skip });
    if (this.#trials.pending) return !signal.aborted; // settings waiting to be tried go first
    try {
      await this.#options.deps.clock.sleep(delayMs, AbortSignal.any([signal, skip.signal]));
    } catch {
      // aborted: either shutting down, or new settings to try now
    }
    return !signal.aborted;
  }

  /** Sends whatever is pending, heartbeats when idle; returns why the connection ended. */
  async #sendLoop(session: Session<T>, conn: Connection, signal: AbortSignal): Promise<TransportError> {
    const { clock } = this.#options.deps;
    this.#outbox.markAllUnsent(); // the first message on a connection is a full report
    let first = true;
    for (;;) {
      if (signal.aborted) return new TransportError("CONNECTION_LOST", "connection stopped");
      const interval = this.#heartbeatFor(conn.kind);
      const dueAt = session.lastSentAt + interval;
      if (first || this.#outbox.hasWork || (interval > 0 && clock.now() >= dueAt)) {
        const { msg, restore } = this.#outbox.build();
        try {
          await conn.send(msg, signal);
          session.lastSentAt = clock.now();
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
        if (first) this.#enter({ kind: "connected", session, conn, since: clock.now() });
        first = false;
        continue;
      }
      await clock
        .sleep(interval > 0 ? dueAt - clock.now() : FOREVER_MS, AbortSignal.any([signal, session.wake.signal]))
        .catch(() => {});
    }
  }

  #heartbeatFor(kind: "ws" | "http"): number {
    if (kind === "http") return this.#pollMs; // an HTTP client that never polls never hears anything
    return this.#outbox.has("reportsHeartbeat") ? this.#heartbeatMs : 0;
  }

  #wakeUp(): void {
    const session = sessionOf(this.#phase);
    if (!session) return; // the first message of the next connection carries everything anyway
    const previous = session.wake;
    session.wake = new AbortController();
    previous.abort();
  }

  /** Moves to `next` and tells listeners, except for the `open` step they see as still connecting. */
  #enter(next: Phase<T>): void {
    if (this.#phase.kind === "closed") return;
    this.#phase = next;
    if (next.kind !== "open") this.emit("state", this.state);
  }
}

/** Server capability check for callers that hold only the bits. */
export function serverHas(bits: bigint, capability: ServerCapability): boolean {
  return hasServerCapability(bits, capability);
}
