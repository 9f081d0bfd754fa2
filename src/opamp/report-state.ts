/**
 * Status compression. Holds the agent's current status sub-messages and remembers which
 * ones the server has not seen yet; only those go into the next AgentToServer.
 */
import { equals } from "@bufbuild/protobuf";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import {
  AgentDescriptionSchema,
  AvailableComponentsSchema,
  ComponentHealthSchema,
  ConnectionSettingsStatusSchema,
  CustomCapabilitiesSchema,
  EffectiveConfigSchema,
  PackageStatusesSchema,
  RemoteConfigStatusSchema,
} from "../gen/opamp_pb.js";
import type { AgentToServer } from "../gen/opamp_pb.js";
import type { StatusKey } from "./domain.js";

const schemas = {
  agentDescription: AgentDescriptionSchema,
  health: ComponentHealthSchema,
  effectiveConfig: EffectiveConfigSchema,
  remoteConfigStatus: RemoteConfigStatusSchema,
  packageStatuses: PackageStatusesSchema,
  customCapabilities: CustomCapabilitiesSchema,
  availableComponents: AvailableComponentsSchema,
  connectionSettingsStatus: ConnectionSettingsStatusSchema,
} as const satisfies Record<StatusKey, DescMessage>;

/** The wire message of one status sub-message. */
export type WireStatus<K extends StatusKey> = MessageShape<(typeof schemas)[K]>;

export const STATUS_KEYS = Object.keys(schemas) as StatusKey[];

export class ReportState {
  readonly #current: { [K in StatusKey]?: WireStatus<K> } = {};
  readonly #unsent = new Set<StatusKey>();

  /** Stores a new value; returns true when it differs from the current one. */
  set<K extends StatusKey>(key: K, value: WireStatus<K>): boolean {
    const previous = this.#current[key];
    const schema: DescMessage = schemas[key];
    if (previous !== undefined && equals(schema, previous, value)) return false;
    (this.#current as Record<StatusKey, unknown>)[key] = value;
    this.#unsent.add(key);
    return true;
  }

  get<K extends StatusKey>(key: K): WireStatus<K> | undefined {
    return this.#current[key];
  }

  /** Everything known goes out again: after connecting and on ReportFullState. */
  markAllUnsent(): void {
    for (const key of STATUS_KEYS) if (this.#current[key] !== undefined) this.#unsent.add(key);
  }

  /** One sub-message goes out again (a capability that gates it was switched on). */
  markUnsent(key: StatusKey): void {
    if (this.#current[key] !== undefined) this.#unsent.add(key);
  }

  get hasUnsent(): boolean {
    return this.#unsent.size > 0;
  }

  /** Moves every unsent sub-message into `msg`; returns the keys taken so a failed send can restore them. */
  fill(msg: AgentToServer): StatusKey[] {
    const taken = [...this.#unsent];
    const target = msg as unknown as Record<StatusKey, unknown>;
    for (const key of taken) target[key] = this.#current[key];
    this.#unsent.clear();
    return taken;
  }

  /** A send failed: the server may not have these, so they go out again. */
  restore(keys: Iterable<StatusKey>): void {
    for (const key of keys) this.#unsent.add(key);
  }
}
