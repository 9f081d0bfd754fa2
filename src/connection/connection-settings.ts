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
import { SupervisorError } from "../errors.js";
import type { OpampClient } from "../opamp/client.js";
import type { ConnectionSettingsOffer, OfferedSettings } from "../opamp/domain.js";
import { isSecureEndpoint } from "../opamp/endpoint.js";
import type { AuditLog, StateDir, StateStore } from "../storage/index.js";
import { bytesToHex, uidToText } from "../storage/index.js";
import type { ActiveSettings, InitialSettings } from "./active-settings.js";
import {
  certificateSummary,
  describeSettings,
  loadInitialSettings,
  policyState,
  rotatedSettings,
  targetFor,
  watchedFiles,
} from "./active-settings.js";
import { CredentialStore } from "./credential-store.js";
import type { PendingCsr } from "./credential-store.js";
import { generateCertificateRequest } from "./csr.js";
import { CertificateFileWatcher } from "./file-watch.js";
import type { FileSnapshot } from "./file-watch.js";
import { evaluateOffer } from "./offer-policy.js";
import { RenewalScheduler } from "./renewal.js";
import { authHeaders, authOf } from "./auth.js";
import type { AuthHeaders } from "./auth.js";
import { WaitingOffer, applyOfferParts } from "./offer-parts.js";
import type { OfferQueue, OfferSteps, OwnTelemetryHandler } from "./offer-parts.js";
import { SettingsStatus } from "./settings-status.js";
import type { ServerTarget } from "./target.js";

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
  readonly #status: SettingsStatus;
  /** One for the supervisor's life: an OAuth2 token outlives a reconnect. */
  readonly #auth: AuthHeaders | undefined;
  #pending: PendingCsr | undefined;
  #forceRenewal = false;
  #client: OpampClient<ServerTarget> | undefined;
  #watcher: CertificateFileWatcher | undefined;
  #renewal: RenewalScheduler | undefined;
  #loops: Array<Promise<void>> = [];
  #activeSnapshotId: string | undefined;

  private constructor(
    o: ConnectionSettingsOptions,
    store: CredentialStore,
    initial: InitialSettings,
    status: SettingsStatus,
  ) {
    this.#status = status;
    const auth = authOf(o.config);
    this.#auth = auth ? authHeaders(auth, { clock: o.deps.clock }) : undefined;
    this.#config = o.config;
    this.#deps = o.deps;
    this.#logger = o.deps.logger.child({ component: "tls" });
    this.#audit = o.audit;
    this.#store = store;
    this.#baseline = initial.baseline;
    this.#active = initial.active;
    this.#activeSnapshotId = initial.snapshot?.id;
  }

  /** Reads persisted settings, status and any outstanding certificate request. */
  static async open(o: ConnectionSettingsOptions): Promise<ConnectionSettings> {
    const store = await CredentialStore.open(o.stateDir, o.store);
    const logger = o.deps.logger.child({ component: "tls" });
    const initial = await loadInitialSettings(o.config, store, { now: o.deps.clock.now(), logger });
    const status = await SettingsStatus.open(store, o.config.capabilities.reportsConnectionSettingsStatus, logger);
    const self = new ConnectionSettings(o, store, initial, status);
    self.#pending = await store.readPendingCsr().catch(() => undefined);
    describeSettings(initial.active, o.config, logger);
    return self;
  }

  /** The target and heartbeat for the client's first connection. */
  initialOptions(): { target: ServerTarget; heartbeatIntervalMs?: number } {
    const heartbeat = this.#active.heartbeatSeconds;
    return {
      target: this.#targetFor(this.#active),
      ...(heartbeat !== null && this.#config.capabilities.reportsHeartbeat
        ? { heartbeatIntervalMs: heartbeat * 1000 }
        : {}),
    };
  }

  #targetFor(active: ActiveSettings): ServerTarget {
    return targetFor(active, this.#config, { now: () => this.#deps.clock.now(), auth: this.#auth });
  }

  /** Wires client events to queued operations and starts renewal and file watching. */
  attach(
    client: OpampClient<ServerTarget>,
    queue: OfferQueue,
    signal: AbortSignal,
    ownTelemetry?: OwnTelemetryHandler,
  ): void {
    this.#client = client;
    this.#status.attach(client);
    const waiting = new WaitingOffer(queue, ownTelemetry, (offer, receivedAt, parts, opSignal) =>
      applyOfferParts(offer, parts, this.#offerSteps(offer, receivedAt), opSignal),
    );
    client.on("connectionSettings", (offer) => waiting.add(offer, this.#deps.clock.now()));
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
      this.#loops.push(
        watcher.start().catch((err: unknown) => this.#logger.warn({ err }, "cannot watch the TLS files")),
      );
      this.#loops.push(watcher.recheckEvery(tls.renewCheckIntervalMs, signal));
    }
  }

  /** Part of the applied settings was lost (see SettingsStatus.lost). */
  settingsLost(reason: string): Promise<void> {
    return this.#status.lost(reason);
  }

  /** Stops watching; waits for the renewal loop (which ends with `signal`). */
  async close(): Promise<void> {
    await this.#watcher?.close();
    await Promise.all(this.#loops);
  }

  // --- offers ----------------------------------------------------------------------------

  #offerSteps(offer: ConnectionSettingsOffer, receivedAt: number): OfferSteps {
    return {
      status: this.#status,
      acceptsOpamp: this.#config.capabilities.acceptsOpampConnectionSettings,
      reportsStatus: this.#config.capabilities.reportsConnectionSettingsStatus,
      logger: this.#logger,
      applyOpamp: (opamp) => this.#applyOpamp(offer, opamp, receivedAt),
      failed: (reason, result) => this.#offerFailed(offer.hash, reason, result),
    };
  }

  /** False when it failed (FAILED is reported, the previous connection kept). */
  async #applyOpamp(offer: ConnectionSettingsOffer, opamp: OfferedSettings, receivedAt: number): Promise<boolean> {
    const hashHex = bytesToHex(offer.hash);
    const current = this.#active;
    const decision = evaluateOffer(await policyState(current, this.#config), opamp, {
      now: this.#deps.clock.now(),
      pendingCsrKeyPem: this.#pending?.keyPem,
    });
    if (!decision.ok) return this.#offerFailed(offer.hash, decision.reason, "refused");
    if (decision.ignored.length > 0)
      this.#logger.info({ fields: decision.ignored, hash: hashHex }, "offer fields not supported; ignored");
    const heartbeatSeconds = this.#config.capabilities.reportsHeartbeat
      ? opamp.heartbeatIntervalSeconds
      : current.heartbeatSeconds;

    const newClient = decision.client;
    const ref = newClient ? await this.#store.stageCertificate(newClient) : undefined;
    const candidate: ActiveSettings = {
      ...current,
      endpoint: decision.endpoint,
      headers: decision.headers,
      minVersion: decision.minVersion,
      client:
        newClient && ref
          ? {
              kind: "pem",
              certPem: newClient.certPem,
              keyPem: newClient.keyPem,
              info: newClient.info,
              source: "offer",
              ref,
            }
          : current.client,
      hash: offer.hash,
      heartbeatSeconds,
    };
    if (decision.changed) {
      const result = await this.#attached().trySettings(this.#targetFor(candidate), {
        timeoutMs: this.#config.server.tls.connectionTrialTimeoutMs,
      });
      if (!result.ok) {
        if (ref) await this.#store.discard(ref);
        return this.#offerFailed(
          offer.hash,
          `could not connect with the offered settings, kept the previous ones: ${result.error.message}`,
          "rolled-back",
        );
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
        certificate:
          candidate.client?.kind === "pem" && candidate.client.source === "offer"
            ? (candidate.client.ref ?? null)
            : null,
      });
    } catch (err) {
      // Settings that would not survive a restart are not kept: back to the previous ones.
      this.#logger.error({ err }, "cannot persist the accepted connection settings");
      if (decision.changed)
        await this.#attached().trySettings(this.#targetFor(current), {
          timeoutMs: this.#config.server.tls.connectionTrialTimeoutMs,
        });
      if (ref) await this.#store.discard(ref).catch(() => undefined);
      return this.#offerFailed(
        offer.hash,
        `could not persist the settings (${(err as NodeJS.ErrnoException).code ?? "write error"}); kept the previous ones`,
        "rolled-back",
      );
    }
    if (newClient?.keySource === "csr") {
      this.#pending = undefined;
      this.#forceRenewal = false;
      await this.#store.clearPendingCsr();
    }
    this.#active = candidate;
    const certificate = newClient ? { ...certificateSummary(newClient.info), key: newClient.keySource } : undefined;
    this.#logger.info(
      {
        hash: hashHex,
        endpoint: candidate.endpoint,
        headerNames: Object.keys(candidate.headers).sort(),
        certificate,
        reconnected: decision.changed,
        elapsedMs: this.#deps.clock.now() - receivedAt,
      },
      "connection settings applied",
    );
    await this.#audit.append({
      action: "connection-settings",
      result: "applied",
      hash: hashHex,
      endpoint: candidate.endpoint,
      ...(certificate ? { certificate } : {}),
    });
    this.#renewal?.poke();
    return true;
  }

  async #offerFailed(hash: Uint8Array, reason: string, result: string): Promise<false> {
    await this.#status.set(hash, "FAILED", reason);
    this.#logger.warn({ hash: bytesToHex(hash), reason }, "connection settings offer failed");
    await this.#audit.append({ action: "connection-settings", result, hash: bytesToHex(hash), reason });
    return false;
  }

  // --- rotations on disk ----------------------------------------------------------------

  async #applyRotation(snapshot: FileSnapshot): Promise<void> {
    const tls = this.#config.server.tls;
    const candidate = rotatedSettings(this.#active, snapshot, this.#config);
    const startedAt = this.#deps.clock.now();
    const result = await this.#attached().trySettings(this.#targetFor(candidate), {
      timeoutMs: tls.connectionTrialTimeoutMs,
    });
    if (!result.ok) {
      this.#watcher?.setCurrent(this.#activeSnapshotId ?? ""); // retried at the next change or periodic check
      this.#logger.warn(
        { reason: result.error.message },
        "the rotated TLS files did not connect; kept the previous certificate",
      );
      await this.#audit.append({ action: "certificate-rotation", result: "rolled-back", reason: result.error.message });
      return;
    }
    this.#active = candidate;
    this.#activeSnapshotId = snapshot.id;
    const certificate = candidate.client?.kind === "pem" ? certificateSummary(candidate.client.info) : undefined;
    this.#logger.info(
      { certificate, elapsedMs: this.#deps.clock.now() - startedAt },
      "reconnected with the rotated TLS files",
    );
    await this.#audit.append({
      action: "certificate-rotation",
      result: "applied",
      ...(certificate ? { certificate } : {}),
    });
    this.#renewal?.poke();
  }

  // --- certificate requests -------------------------------------------------------------

  async #requestCertificate(attempt: number): Promise<void> {
    const client = this.#client;
    if (!client || !this.#canRequest()) return;
    const uid = uidToText(client.instanceUid);
    let pending = this.#pending;
    if (!pending || pending.instanceUid !== uid) {
      const request = await generateCertificateRequest({ instanceUid: uid });
      pending = {
        instanceUid: uid,
        csrPem: request.csrPem,
        keyPem: request.keyPem,
        requestedAt: this.#deps.clock.now(),
      };
      await this.#store.writePendingCsr(pending);
      this.#pending = pending;
    }
    client.requestConnectionSettings({ csrPem: pending.csrPem });
    this.#logger.info({ attempt, instanceUid: uid }, "certificate signing request sent");
    if (attempt === 1) await this.#audit.append({ action: "certificate-request", result: "sent", instanceUid: uid });
  }

  #canRequest(): boolean {
    const client = this.#client;
    if (!client || client.state.kind !== "connected") return false;
    return client.serverAccepts("acceptsConnectionSettingsRequest") && isSecureEndpoint(this.#active.endpoint);
  }

  /** Offers and rotations arrive only after attach(): the client is there by then. */
  #attached(): OpampClient<ServerTarget> {
    if (!this.#client)
      throw new SupervisorError("CONNECTION_FAILED", "connection settings used before attach(): no client yet");
    return this.#client;
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
}
