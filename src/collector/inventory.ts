/**
 * The collector binary's `components` inventory, read once per binary and shared: the
 * composition asks it whether healthcheckv2 can be injected, ReportsAvailableComponents
 * reports it. A new binary (a package upgrade) is read again.
 *
 * A failed read is remembered too (a build without the command fails the same way every
 * time); the caller's abort does not poison the shared read. With a cache, a start on the
 * same binary as before takes the kept output instead of running it (inventory-cache.ts).
 */
import type { CollectorDriver, VersionInfo } from "./driver.js";
import { parseInventory } from "./components.js";
import type { Inventory } from "./components.js";
import type { CollectorSupport } from "./composition.js";
import type { InventoryCache } from "./inventory-cache.js";

export { inventoryCache } from "./inventory-cache.js";

export class CollectorInventory {
  readonly #driver: Pick<CollectorDriver, "components">;
  /** The collector's lifetime: the shared read runs under it, not under one caller's signal. */
  readonly #signal: AbortSignal;
  readonly #cache: InventoryCache | undefined;
  #output: Promise<string> | undefined;
  #parsed: Promise<Inventory | undefined> | undefined;

  constructor(driver: Pick<CollectorDriver, "components">, signal: AbortSignal, cache?: InventoryCache) {
    this.#driver = driver;
    this.#signal = signal;
    this.#cache = cache;
  }

  /** The driver cannot run `components` (a sidecar): no inventory, and no healthcheckv2. */
  get available(): boolean {
    return this.#driver.components !== undefined;
  }

  /** `<collector> components` output, unparsed; rejects as the driver's run did. */
  components(signal: AbortSignal): Promise<string> {
    const run = this.#driver.components?.bind(this.#driver);
    if (!run) return Promise.reject(new Error("this collector driver cannot run `components`"));
    this.#output ??= this.#read(run);
    return raceAbort(this.#output, signal);
  }

  async #read(run: (signal: AbortSignal) => Promise<string>): Promise<string> {
    const kept = await this.#cache?.lookup();
    if (kept?.output !== undefined) return kept.output;
    const output = await run(this.#signal);
    if (kept?.binary !== undefined) void this.#cache?.store(kept.binary, output);
    return output;
  }

  /** What the binary offers the composition; nothing when the inventory cannot be read. */
  async support(signal: AbortSignal): Promise<CollectorSupport> {
    const parsed = (await this.#inventory(signal))?.components;
    const extensions = parsed?.ok ? parsed.components.components.extensions : undefined;
    return { healthcheckV2: extensions?.subComponents.healthcheckv2 !== undefined };
  }

  /** The build's name and version from the inventory; undefined when it cannot say. */
  async buildInfo(signal: AbortSignal): Promise<VersionInfo | undefined> {
    return (await this.#inventory(signal))?.buildInfo;
  }

  /**
   * One parse per read, shared: every config apply composes (asking for support), and the
   * start asks for the build too. Undefined when there is no inventory, the read failed or
   * this caller gave up (the shared parse goes on for the others).
   */
  #inventory(signal: AbortSignal): Promise<Inventory | undefined> {
    if (!this.available) return Promise.resolve(undefined);
    this.#parsed ??= this.components(this.#signal).then(parseInventory, () => undefined);
    return raceAbort(this.#parsed, signal).catch(() => undefined);
  }

  /** The binary was swapped: read it again next time. */
  forget(): void {
    this.#output = undefined;
    this.#parsed = undefined;
  }
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
