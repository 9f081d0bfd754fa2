/**
 * Turns supervisor facts into OpAMP status sub-messages, honouring the capabilities the
 * operator switched on, and persists the remote config status so a restart reports it.
 */
import type { ResolvedCapabilities } from "../config/schema.js";
import type { CollectorHealth } from "../health/component-health.js";
import { toComponentHealth } from "../health/component-health.js";
import { EffectiveConfigSchema, RemoteConfigStatusSchema, RemoteConfigStatuses, create } from "../opamp/codec.js";
import type { AgentDescription } from "../opamp/codec.js";
import type { OpampClient } from "../opamp/client.js";
import type { RemoteConfigStatusValue, StateStore, StoredRemoteConfigStatus } from "../storage/index.js";

const WIRE_STATUS: Record<RemoteConfigStatusValue, RemoteConfigStatuses> = {
  UNSET: RemoteConfigStatuses.RemoteConfigStatuses_UNSET,
  APPLIED: RemoteConfigStatuses.RemoteConfigStatuses_APPLIED,
  APPLYING: RemoteConfigStatuses.RemoteConfigStatuses_APPLYING,
  FAILED: RemoteConfigStatuses.RemoteConfigStatuses_FAILED,
};

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
    this.client.setStatus(
      "effectiveConfig",
      create(EffectiveConfigSchema, { configMap: { configMap: { "": { body, contentType: "text/yaml" } } } }),
    );
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
    this.client.setStatus(
      "remoteConfigStatus",
      create(RemoteConfigStatusSchema, {
        lastRemoteConfigHash: status.hash,
        status: WIRE_STATUS[status.status],
        errorMessage: status.errorMessage,
      }),
    );
  }
}
