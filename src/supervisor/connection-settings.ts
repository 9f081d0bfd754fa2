/**
 * OpAMP connection settings and the client certificate, kept valid without anyone logging in:
 *
 *   offer ─▶ APPLYING ─▶ policy + certificate checks ─fail─▶ FAILED (old connection untouched)
 *                              │ ok
 *                              ▼
 *            stage cert/key (0600) ─▶ trial connection ─no answer─▶ back to old settings, FAILED
 *                                             │ first reply
 *                                             ▼
 *                           persist (atomic), forget old certificate, APPLIED
 *
 * Certificate requests (CSR) go out when the server accepts them and the certificate is
 * missing or inside the renewal window; the answer is an ordinary offer, paired with the
 * key kept here. Rotations of the configured files take the same trial path. Everything runs
 * as operations on the supervisor's queue, so it never races a config apply.
 */
import type { ResolvedConfig } from "../config/schema.js";
import type { Deps, Logger } from "../deps.js";
import { serverHas } from "../opamp/client.js";
import type { OpampClient } from "../opamp/client.js";
import type { TlsSettings } from "../opamp/tls-options.js";
import {
  ConnectionSettingsRequestSchema,
  ConnectionSettingsStatusSchema,
  ConnectionSettingsStatuses,
  ServerCapabilities,
  create,
} from "../opamp/codec.js";
import type { ConnectionSettingsOffers, OpAMPConnectionSettings } from "../opamp/codec.js";
import type { AuditLog, StateDir, StateStore } from "../storage/index.js";
import { PersistedStatus, bytesToHex, settleInterrupted, uidToText } from "../storage/index.js";
import { CertificateFileWatcher, CredentialStore, RenewalScheduler, evaluateOffer, generateCertificateRequest, pemFromBytes } from "../tls/index.js";
import type { ConnectionStatusValue, FileSnapshot, OfferedSettings, PendingCsr, StoredConnectionStatus } from "../tls/index.js";
import type { ActiveSettings, InitialSettings } from "./connection-state.js";
import { isSecureEndpoint, loadInitialSettings, policyState, shortFingerprint, targetFor, watchedFiles } from "./connection-state.js";
import type { OperationQueue } from "./queue.js";

const WIRE_STATUS: Record<ConnectionStatusValue, ConnectionSettingsStatuses> = {
  UNSET: ConnectionSettingsStatuses.ConnectionSettingsStatuses_UNSET,
  APPLYING: ConnectionSettingsStatuses.ConnectionSettingsStatuses_APPLYING,
  APPLIED: ConnectionSettingsStatuses.ConnectionSettingsStatuses_APPLIED,
  FAILED: ConnectionSettingsStatuses.ConnectionSettingsStatuses_FAILED,
};

export interface ConnectionSettingsOptions {
  config: ResolvedConfig;
  deps: Deps;
  stateDir: StateDir;
  store: StateStore;
  audit: AuditLog;
}

export class ConnectionSettings {
  readonly #config: ResolvedConfig;
  readonly #deps: Deps;
  readonly #logger: Logger;
  readonly #audit: AuditLog;
  readonly #store: CredentialStore;
  readonly #baseline: string;
  #active: ActiveSettings;
  /** The one status primitive: persisted, then sent (also when the disk refuses the write). */
  readonly #status: PersistedStatus<StoredConnectionStatus>;
  /** Offer hash last acted on; the same offer again is ignored (as opamp-go does). */
  #lastHash: string | undefined;
  #pending: PendingCsr | undefined;
  #forceRenewal = false;
  #client: OpampClient | undefined;
  #watcher: CertificateFileWatcher | undefined;
  #renewal: RenewalScheduler | undefined;
  #loops: Array<Promise<void>> = [];
  #activeSnapshotId: string | undefined;

  private constructor(o: ConnectionSettingsOptions, store: CredentialStore, initial: InitialSettings) {
    this.#config = o.config;
    this.#deps = o.deps;
    this.#logger = o.deps.logger.child({ component: "tls" });
    this.#audit = o.audit;
    this.#store = store;
    this.#baseline = initial.baseline;
    this.#active = initial.active;
    this.#activeSnapshotId = initial.snapshot?.id;
    this.#status = new PersistedStatus({
      what: "connection settings status",
      logger: this.#logger,
      write: (status) => this.#store.writeStatus(status),
      send: (status) => this.#report(status),
    });
  }

  /** Reads persisted settings, status and any outstanding certificate request. */
  static async open(o: ConnectionSettingsOptions): Promise<ConnectionSettings> {
    const store = await CredentialStore.open(o.stateDir, o.store);
    const logger = o.deps.logger.child({ component: "tls" });
    const initial = await loadInitialSettings(o.config, store, { now: o.deps.clock.now(), logger });
    const self = new ConnectionSettings(o, store, initial);
    await self.#settleStatus();
    self.#pending = await store.readPendingCsr().catch(() => undefined);
    self.#describeStart();
    return self;
  }

  /** Endpoint, headers, TLS and heartbeat for the client's first connection. */
  initialOptions(): { endpoint: string; headers: Record<string, string>; tls: TlsSettings; heartbeatIntervalMs?: number } {
    const target = targetFor(this.#active, this.#config);
    const heartbeat = this.#active.heartbeatSeconds;
    return {
      endpoint: target.endpoint,
      headers: { ...target.headers },
      tls: target.tls ?? {},
      ...(heartbeat !== null && this.#config.capabilities.reportsHeartbeat ? { heartbeatIntervalMs: heartbeat * 1000 } : {}),
    };
  }

  /** Wires client events to queued operations and starts renewal and file watching. */
  attach(client: OpampClient, queue: OperationQueue, signal: AbortSignal): void {
    this.#client = client;
    this.#status.resend();
    client.on("connectionSettings", (offer) => {
      if (!offer.opamp) return;
      const receivedAt = this.#deps.clock.now();
      void queue.enqueueLatest("connection-settings", () => this.#applyOffer(offer, offer.opamp as OpAMPConnectionSettings, receivedAt));
    });
    client.on("serverCapabilities", () => this.#renewal?.poke());
    client.on("state", (state) => {
      if (state.kind === "connected") this.#renewal?.poke();
    });
    client.on("instanceUid", (uid) => this.#onNewUid(uidToText(uid)));

    const tls = this.#config.server.tls;
    if (tls.renewBeforeMs > 0 && this.#config.capabilities.acceptsOpampConnectionSettings) {
      const renewal = new RenewalScheduler({
        clock: this.#deps.clock,
        logger: this.#logger,
        renewBeforeMs: tls.renewBeforeMs,
        checkIntervalMs: tls.renewCheckIntervalMs,
        retryInitialMs: tls.renewRetryIntervalMs,
        state: () => ({ notAfter: this.#clientNotAfter(), canRequest: this.#canRequest(), force: this.#forceRenewal }),
        request: (attempt) => queue.enqueue("certificate-request", () => this.#requestCertificate(attempt)),
      });
      this.#renewal = renewal;
      this.#loops.push(renewal.run(signal));
    }
    const files = watchedFiles(this.#config);
    if (tls.watchFiles && (files.certFile || files.caFile) && isSecureEndpoint(this.#config.server.endpoint)) {
      const watcher = new CertificateFileWatcher({
        files,
        clock: this.#deps.clock,
        logger: this.#logger,
        onRotated: (snapshot) => void queue.enqueueLatest("certificate-rotation", () => this.#applyRotation(snapshot)),
      });
      if (this.#activeSnapshotId) watcher.setCurrent(this.#activeSnapshotId);
      this.#watcher = watcher;
      this.#loops.push(watcher.start().catch((err: unknown) => this.#logger.warn({ err }, "cannot watch the TLS files")));
      this.#loops.push(this.#recheckFiles(watcher, signal));
    }
  }

  /** Stops watching; waits for the renewal loop (which ends with `signal`). */
  async close(): Promise<void> {
    await this.#watcher?.close();
    await Promise.all(this.#loops);
  }

  // --- offers ----------------------------------------------------------------------------

  async #applyOffer(offer: ConnectionSettingsOffers, opamp: OpAMPConnectionSettings, receivedAt: number): Promise<void> {
    const hashHex = bytesToHex(offer.hash);
    if (hashHex === this.#lastHash) return;
    if (!this.#config.capabilities.acceptsOpampConnectionSettings) {
      if (this.#config.capabilities.reportsConnectionSettingsStatus) {
        await this.#setStatus(offer.hash, "FAILED", "this agent does not accept OpAMP connection settings (capabilities.accepts_opamp_connection_settings is false)");
      }
      return;
    }
    this.#lastHash = hashHex;
    await this.#setStatus(offer.hash, "APPLYING", "");
    const current = this.#active;
    const decision = evaluateOffer(await policyState(current, this.#config), toOffered(opamp), {
      now: this.#deps.clock.now(),
      pendingCsrKeyPem: this.#pending?.keyPem,
    });
    if (!decision.ok) return this.#offerFailed(offer.hash, decision.reason, "refused");
    if (decision.ignored.length > 0) this.#logger.info({ fields: decision.ignored, hash: hashHex }, "offer fields not supported; ignored");
    const heartbeatSeconds = this.#config.capabilities.reportsHeartbeat ? Number(opamp.heartbeatIntervalSeconds) : current.heartbeatSeconds;

    const newClient = decision.client;
    const ref = newClient ? await this.#store.stageCertificate(newClient) : undefined;
    const candidate: ActiveSettings = {
      ...current,
      endpoint: decision.endpoint,
      headers: decision.headers,
      minVersion: decision.minVersion,
      client: newClient && ref ? { kind: "pem", certPem: newClient.certPem, keyPem: newClient.keyPem, info: newClient.info, source: "offer", ref } : current.client,
      hash: offer.hash,
      heartbeatSeconds,
    };
    if (decision.changed) {
      const result = await this.#client!.trySettings(targetFor(candidate, this.#config), { timeoutMs: this.#config.server.tls.connectionTrialTimeoutMs });
      if (!result.ok) {
        if (ref) await this.#store.discard(ref);
        return this.#offerFailed(offer.hash, `could not connect with the offered settings, kept the previous ones: ${result.error.message}`, "rolled-back");
      }
    }
    try {
      await this.#store.commitSettings({
        baseline: this.#baseline,
        hash: offer.hash,
        endpoint: candidate.endpoint,
        headers: candidate.headers,
        minVersion: candidate.minVersion,
        heartbeatSeconds: candidate.heartbeatSeconds,
        certificate: candidate.client?.kind === "pem" && candidate.client.source === "offer" ? (candidate.client.ref ?? null) : null,
      });
    } catch (err) {
      // Settings that would not survive a restart are not kept: back to the previous ones.
      this.#logger.error({ err }, "cannot persist the accepted connection settings");
      if (decision.changed) await this.#client!.trySettings(targetFor(current, this.#config), { timeoutMs: this.#config.server.tls.connectionTrialTimeoutMs });
      if (ref) await this.#store.discard(ref).catch(() => undefined);
      return this.#offerFailed(offer.hash, `could not persist the settings (${(err as NodeJS.ErrnoException).code ?? "write error"}); kept the previous ones`, "rolled-back");
    }
    if (newClient?.keySource === "csr") {
      this.#pending = undefined;
      this.#forceRenewal = false;
      await this.#store.clearPendingCsr();
    }
    this.#active = candidate;
    await this.#setStatus(offer.hash, "APPLIED", "");
    const certificate = newClient ? { subject: newClient.info.subject, notAfter: new Date(newClient.info.notAfter).toISOString(), fingerprint: shortFingerprint(newClient.info), key: newClient.keySource } : undefined;
    this.#logger.info(
      { hash: hashHex, endpoint: candidate.endpoint, headerNames: Object.keys(candidate.headers).sort(), certificate, reconnected: decision.changed, elapsedMs: this.#deps.clock.now() - receivedAt },
      "connection settings applied",
    );
    await this.#audit.append({ action: "connection-settings", result: "applied", hash: hashHex, endpoint: candidate.endpoint, ...(certificate ? { certificate } : {}) });
    this.#renewal?.poke();
  }

  async #offerFailed(hash: Uint8Array, reason: string, result: string): Promise<void> {
    await this.#setStatus(hash, "FAILED", reason);
    this.#logger.warn({ hash: bytesToHex(hash), reason }, "connection settings offer failed");
    await this.#audit.append({ action: "connection-settings", result, hash: bytesToHex(hash), reason });
  }

  // --- rotations on disk ----------------------------------------------------------------

  async #applyRotation(snapshot: FileSnapshot): Promise<void> {
    const current = this.#active;
    const tls = this.#config.server.tls;
    const candidate: ActiveSettings = { ...current };
    if (snapshot.caPem && tls.caFile) candidate.ca = { kind: "pem", pem: snapshot.caPem, label: `server.tls.ca_file ${tls.caFile}` };
    // An offered certificate in force wins over the configured files until supervisor.yaml changes.
    const configCertInUse = current.client === undefined || current.client.kind === "files" || current.client.source === "config";
    if (configCertInUse && snapshot.certPem && snapshot.keyPem && snapshot.info) {
      candidate.client = { kind: "pem", certPem: snapshot.certPem, keyPem: snapshot.keyPem, info: snapshot.info, source: "config" };
    }
    const startedAt = this.#deps.clock.now();
    const result = await this.#client!.trySettings(targetFor(candidate, this.#config), { timeoutMs: tls.connectionTrialTimeoutMs });
    if (!result.ok) {
      this.#watcher?.setCurrent(this.#activeSnapshotId ?? ""); // retried at the next change or periodic check
      this.#logger.warn({ reason: result.error.message }, "the rotated TLS files did not connect; kept the previous certificate");
      await this.#audit.append({ action: "certificate-rotation", result: "rolled-back", reason: result.error.message });
      return;
    }
    this.#active = candidate;
    this.#activeSnapshotId = snapshot.id;
    const info = candidate.client?.kind === "pem" ? candidate.client.info : undefined;
    const certificate = info ? { subject: info.subject, notAfter: new Date(info.notAfter).toISOString(), fingerprint: shortFingerprint(info) } : undefined;
    this.#logger.info({ certificate, elapsedMs: this.#deps.clock.now() - startedAt }, "reconnected with the rotated TLS files");
    await this.#audit.append({ action: "certificate-rotation", result: "applied", ...(certificate ? { certificate } : {}) });
    this.#renewal?.poke();
  }

  /** A backstop for missed events and for a set that failed while the server was away. */
  async #recheckFiles(watcher: CertificateFileWatcher, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.#deps.clock.sleep(this.#config.server.tls.renewCheckIntervalMs, signal).catch(() => undefined);
      if (!signal.aborted) await watcher.check();
    }
  }

  // --- certificate requests -------------------------------------------------------------

  async #requestCertificate(attempt: number): Promise<void> {
    const client = this.#client;
    if (!client || !this.#canRequest()) return;
    const uid = uidToText(client.instanceUid);
    let pending = this.#pending;
    if (!pending || pending.instanceUid !== uid) {
      const request = await generateCertificateRequest({ instanceUid: uid });
      pending = { instanceUid: uid, csrPem: request.csrPem, keyPem: request.keyPem, requestedAt: this.#deps.clock.now() };
      await this.#store.writePendingCsr(pending);
      this.#pending = pending;
    }
    client.requestConnectionSettings(
      create(ConnectionSettingsRequestSchema, { opamp: { certificateRequest: { csr: new TextEncoder().encode(pending.csrPem) } } }),
    );
    this.#logger.info({ attempt, instanceUid: uid }, "certificate signing request sent");
    if (attempt === 1) await this.#audit.append({ action: "certificate-request", result: "sent", instanceUid: uid });
  }

  #canRequest(): boolean {
    const client = this.#client;
    if (!client || client.state.kind !== "connected") return false;
    return serverHas(client.serverCapabilities, ServerCapabilities.ServerCapabilities_AcceptsConnectionSettingsRequest) && isSecureEndpoint(this.#active.endpoint);
  }

  #clientNotAfter(): number | undefined {
    const client = this.#active.client;
    if (client === undefined) return undefined;
    // Files that could not be parsed at start: their expiry is unknown, so no renewal is forced.
    return client.info?.notAfter ?? Number.MAX_SAFE_INTEGER;
  }

  #onNewUid(uid: string): void {
    const client = this.#active.client;
    // The uid is in certificates this supervisor requested: a new uid needs a new certificate.
    if (client?.kind === "pem" && client.source === "offer" && client.info.subject.includes("CN=")) {
      this.#forceRenewal = !client.info.subject.includes(`CN=${uid}`);
      this.#renewal?.poke();
    }
  }

  // --- status ---------------------------------------------------------------------------

  async #setStatus(hash: Uint8Array, status: ConnectionStatusValue, errorMessage: string): Promise<void> {
    await this.#status.set({ hash, status, errorMessage });
  }

  #report(status: StoredConnectionStatus): void {
    if (!this.#config.capabilities.reportsConnectionSettingsStatus || !this.#client) return;
    this.#client.setStatus(
      "connectionSettingsStatus",
      create(ConnectionSettingsStatusSchema, { lastConnectionSettingsHash: status.hash, status: WIRE_STATUS[status.status], errorMessage: status.errorMessage }),
    );
  }

  /** An APPLYING on disk means the supervisor died mid-trial: the previous settings are in force. */
  async #settleStatus(): Promise<void> {
    const stored = await this.#store.readStatus().catch(() => undefined);
    const { status, interrupted } = settleInterrupted(stored, ["APPLYING"], (s): StoredConnectionStatus => ({
      hash: s.hash,
      status: "FAILED",
      errorMessage: "the supervisor restarted while applying these settings; the previous settings are in use",
    }));
    if (interrupted && status) {
      await this.#status.set(status);
      return; // not remembered as handled: the same offer again is tried again
    }
    if (status) {
      this.#status.restore(status);
      this.#lastHash = bytesToHex(status.hash);
    }
  }

  #describeStart(): void {
    const a = this.#active;
    const tls = this.#config.server.tls;
    const client = a.client?.kind === "pem" ? { subject: a.client.info.subject, notAfter: new Date(a.client.info.notAfter).toISOString(), source: a.client.source } : a.client ? { files: [a.client.certFile, a.client.keyFile] } : null;
    this.#logger.info(
      { endpoint: a.endpoint, source: a.hash ? `accepted offer ${bytesToHex(a.hash)}` : "supervisor.yaml", headerNames: Object.keys(a.headers).sort(), clientCertificate: client },
      "OpAMP connection settings",
    );
    if (!isSecureEndpoint(a.endpoint) && (tls.caFile || tls.certFile || tls.caPem || tls.certPem)) {
      this.#logger.warn({ endpoint: a.endpoint }, "server.tls is set but the endpoint is not wss:// or https://; TLS follows the endpoint scheme, so it is not used");
    }
    if (isSecureEndpoint(a.endpoint) && tls.insecureSkipVerify) {
      this.#logger.warn("server certificate verification is OFF (server.tls.insecure_skip_verify: true)");
    }
  }
}

function toOffered(opamp: OpAMPConnectionSettings): OfferedSettings {
  const cert = opamp.certificate;
  const tls = opamp.tls;
  return {
    endpoint: opamp.destinationEndpoint,
    headers: opamp.headers ? opamp.headers.headers.map((h) => ({ key: h.key, value: h.value })) : undefined,
    certificate: cert ? { certPem: pemFromBytes(cert.cert), keyPem: pemFromBytes(cert.privateKey), caPem: pemFromBytes(cert.caCert) } : undefined,
    tls: tls
      ? {
          caPem: tls.caPemContents,
          includeSystemCa: tls.includeSystemCaCertsPool,
          insecureSkipVerify: tls.insecureSkipVerify,
          minVersion: tls.minVersion,
          maxVersion: tls.maxVersion,
          cipherSuites: tls.cipherSuites,
        }
      : undefined,
    hasProxy: opamp.proxy !== undefined,
  };
}
