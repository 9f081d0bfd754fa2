/**
 * Turns supervisor facts into OpAMP status sub-messages, honouring the capabilities the
 * operator switched on, and persists the remote config status so a restart reports it.
 */
import type { ResolvedCapabilities } from "../config/schema.js";
import type { CollectorHealth } from "../health/component-health.js";
import { toComponentHealth } from "../health/component-health.js";
import type { OpampClient } from "../opamp/client.js";
import type { AgentDescription } from "../opamp/domain.js";
import type { StateStore, StoredRemoteConfigStatus } from "../storage/index.js";

export class StatusReporter {
  #remoteStatus: StoredRemoteConfigStatus | undefined;

  constructor(
    private readonly client: OpampClient,
    private readonly capabilities: ResolvedCapabilities,
    private readonly store: StateStore,
  ) {}

  get remoteStatus(): StoredRemoteConfigStatus | undefined {
    return this.#remoteStatus;
  }

  description(description: AgentDescription): void {
    this.client.setStatus("agentDescription", description);
  }

  health(health: CollectorHealth): void {
    if (this.capabilities.reportsHealth) this.client.setStatus("health", toComponentHealth(health));
  }

  /** The composed file the collector runs, as one entry keyed "" (a single-file agent). */
  effectiveConfig(yaml: string): void {
    if (!this.capabilities.reportsEffectiveConfig) return;
    const body = new TextEncoder().encode(yaml);
    this.client.setStatus("effectiveConfig", { configMap: { "": { body, contentType: "text/yaml" } } });
  }

  /** Persists first, then reports: what the server hears is what a restart will say. */
  async remoteConfigStatus(status: StoredRemoteConfigStatus): Promise<void> {
    await this.store.writeRemoteConfigStatus(status);
    this.restoreRemoteConfigStatus(status);
  }

  /** Reports a status already on disk (at start). */
  restoreRemoteConfigStatus(status: StoredRemoteConfigStatus): void {
    this.#remoteStatus = status;
    if (!this.capabilities.reportsRemoteConfig) return;
    this.client.setStatus("remoteConfigStatus", { hash: status.hash, status: status.status, errorMessage: status.errorMessage });
  }
}
