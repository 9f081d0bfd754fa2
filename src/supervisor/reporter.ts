/**
 * Turns supervisor facts into OpAMP status sub-messages, honouring the capabilities the
 * operator switched on. The remote config status is a PersistedStatus (the one status
 * primitive): it is persisted and then sent, also when the write is refused, so a full or
 * read-only disk never keeps the server from hearing FAILED; the newest status is written
 * once writing works again.
 * Every text that goes out here passes the secret masker.
 */
import type { ResolvedCapabilities } from "../config/schema.js";
import type { CollectorHealth } from "../health/component-health.js";
import { toComponentHealth } from "../health/component-health.js";
import type { OpampClient } from "../opamp/client.js";
import type { AgentDescription, ComponentHealth } from "../opamp/domain.js";
import { PersistedStatus } from "../storage/index.js";
import type { StateStore, StoredRemoteConfigStatus } from "../storage/index.js";
import { noMasking } from "../telemetry/mask.js";
import type { StatusSnapshot } from "./status-snapshot.js";
import type { SecretMasker } from "../telemetry/mask.js";

export class StatusReporter {
  readonly #remote: PersistedStatus<StoredRemoteConfigStatus>;
  /** True when the current FAILED came from the disk, not the config: the same hash may be tried again. */
  #transient = false;

  constructor(
    private readonly client: OpampClient,
    private readonly capabilities: ResolvedCapabilities,
    store: StateStore,
    private readonly masker: SecretMasker = noMasking,
    /** Keeps what /health and `status` show; fed the same facts as the server. */
    private readonly snapshot?: StatusSnapshot,
    /**
     * Values the server offered (own-telemetry headers), masked in the effective config. Only
     * those: masking every configured value there would also hit config keys that happen to
     * be spelled like one (an env value "debug" and the debug exporter).
     */
    private readonly offered: SecretMasker = noMasking,
  ) {
    this.#remote = new PersistedStatus({
      what: "remote config status",
      logger: store.logger,
      write: (status) => store.writeRemoteConfigStatus(status),
      // The status screen shows what the server hears, when it hears it.
      send: (status) => {
        this.snapshot?.remoteConfig(status);
        this.#sendRemote(status);
      },
    });
  }

  get remoteStatus(): StoredRemoteConfigStatus | undefined {
    return this.#remote.current;
  }

  /** `text` with configured secrets masked: for any other text bound for the server. */
  mask(text: string): string {
    return this.masker.mask(text);
  }

  description(description: AgentDescription): void {
    this.client.setStatus("agentDescription", description);
  }

  health(health: CollectorHealth): void {
    this.snapshot?.collectorHealth(health);
    if (!this.capabilities.reportsHealth) return;
    this.client.setStatus(
      "health",
      maskHealth(toComponentHealth(health), (text) => this.masker.mask(text)),
    );
  }

  /** The composed file the collector runs, as one entry keyed "" (a single-file agent). */
  effectiveConfig(yaml: string): void {
    if (!this.capabilities.reportsEffectiveConfig) return;
    const body = new TextEncoder().encode(this.offered.mask(yaml));
    this.client.setStatus("effectiveConfig", { configMap: { "": { body, contentType: "text/yaml" } } });
  }

  /**
   * Persists, then reports: the server hears the status even when the disk refuses it.
   * Never rejects; resolves false when the status could not be persisted (yet).
   * `after`: see PersistedStatus.set.
   */
  async remoteConfigStatus(
    status: StoredRemoteConfigStatus,
    options: { transient?: boolean; after?: Promise<unknown> } = {},
  ): Promise<boolean> {
    this.#transient = status.status === "FAILED" && options.transient === true;
    const masked = { ...status, errorMessage: this.masker.mask(status.errorMessage) };
    return this.#remote.set(masked, options);
  }

  /** True when the current status is a FAILED for `hash` that a storage fault caused. */
  failedTransiently(hash: Uint8Array): boolean {
    const current = this.#remote.current;
    return this.#transient && current !== undefined && Buffer.from(current.hash).equals(Buffer.from(hash));
  }

  /** Reports a status already on disk (at start). */
  restoreRemoteConfigStatus(status: StoredRemoteConfigStatus): void {
    this.#transient = false;
    this.#remote.restore({ ...status, errorMessage: this.masker.mask(status.errorMessage) });
  }

  /** Persists a status an earlier write could not. */
  flush(): Promise<boolean> {
    return this.#remote.flush();
  }

  #sendRemote(status: StoredRemoteConfigStatus): void {
    if (!this.capabilities.reportsRemoteConfig) return;
    this.client.setStatus("remoteConfigStatus", {
      hash: status.hash,
      status: status.status,
      errorMessage: status.errorMessage,
    });
  }
}

/** Every error text in the health tree (a component's error may quote a secret too). */
function maskHealth(health: ComponentHealth, mask: (text: string) => string): ComponentHealth {
  const components = health.components;
  return {
    ...health,
    lastError: mask(health.lastError),
    ...(components
      ? { components: Object.fromEntries(Object.entries(components).map(([k, c]) => [k, maskHealth(c, mask)])) }
      : {}),
  };
}
