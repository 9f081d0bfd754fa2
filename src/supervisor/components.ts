/**
 * ReportsAvailableComponents: reads `<collector> components` and reports it. The capability
 * bit is advertised only while an inventory is known. A collector without the command (a
 * custom or old build) or with output we cannot parse gets a warning and the bit off: the
 * spec sends available_components iff the capability is set, and an empty map with a hash
 * would tell the server "this collector has no components", which is false. Dropping the
 * bit is allowed at any time (capabilities may change after the first message).
 */
import type { CollectorDriver } from "../collector/driver.js";
import { parseComponents } from "../collector/components.js";
import type { ResolvedConfig } from "../config/schema.js";
import type { Clock, Logger } from "../deps.js";
import type { OpampClient } from "../opamp/client.js";
import type { AvailableComponents } from "../opamp/domain.js";
import { capabilityBits } from "./capabilities.js";
import type { StatusSnapshot } from "./status-snapshot.js";

export interface ComponentsOptions {
  config: ResolvedConfig;
  driver: Pick<CollectorDriver, "components">;
  client: Pick<OpampClient, "setStatus" | "setCapabilities">;
  logger: Logger;
  clock: Clock;
  snapshot?: Pick<StatusSnapshot, "availableComponents">;
}

/** Reads and reports the inventory; resolves whether one is reported now. Never rejects. */
export async function reportAvailableComponents(o: ComponentsOptions, signal: AbortSignal): Promise<boolean> {
  if (!o.config.capabilities.reportsAvailableComponents) return false;
  const started = o.clock.now();
  const known = await read(o, signal);
  if (known) {
    o.client.setStatus("availableComponents", known);
    const counts = Object.fromEntries(
      Object.entries(known.components).map(([kind, d]) => [kind, Object.keys(d.subComponents).length]),
    );
    o.logger.info({ ...counts, durationMs: o.clock.now() - started }, "read the collector's available components");
  }
  o.snapshot?.availableComponents(known?.hash);
  o.client.setCapabilities(capabilityBits(o.config.capabilities, { availableComponents: known !== undefined }));
  return known !== undefined;
}

async function read(o: ComponentsOptions, signal: AbortSignal): Promise<AvailableComponents | undefined> {
  const warn = (reason: string): void => {
    o.logger.warn({ reason }, "cannot list the collector's components; reports_available_components stays off");
  };
  if (!o.driver.components) {
    warn("this collector driver cannot run `components`");
    return undefined;
  }
  let output: string;
  try {
    output = await o.driver.components(signal);
  } catch (err) {
    if (signal.aborted) return undefined;
    warn((err as Error).message);
    return undefined;
  }
  const parsed = parseComponents(output);
  if (parsed.ok) return parsed.components;
  warn(`unexpected \`components\` output: ${parsed.reason}`);
  return undefined;
}
