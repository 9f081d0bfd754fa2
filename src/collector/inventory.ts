/**
 * The collector binary's `components` inventory, read once per binary and shared: the
 * composition asks it whether healthcheckv2 can be injected, ReportsAvailableComponents
 * reports it. A new binary (a package upgrade) is read again.
 *
 * A failed read is remembered too (a build without the command fails the same way every
 * time); the caller's abort does not poison the shared read.
 */
import type { CollectorDriver, VersionInfo } from "./driver.js";
import { parseBuildInfo, parseComponents } from "./components.js";
import type { CollectorSupport } from "./composition.js";

export class CollectorInventory {
  readonly #driver: Pick<CollectorDriver, "components">;
  /** The collector's lifetime: the shared read runs under it, not under one caller's signal. */
  readonly #signal: AbortSignal;
  #output: Promise<string> | undefined;
  #support: Promise<CollectorSupport> | undefined;

  constructor(driver: Pick<CollectorDriver, "components">, signal: AbortSignal) {
    this.#driver = driver;
    this.#signal = signal;
  }

  /** The driver cannot run `components` (a sidecar): no inventory, and no healthcheckv2. */
  get available(): boolean {
    return this.#driver.components !== undefined;
  }

  /** `<collector> components` output, unparsed; rejects as the driver's run did. */
  components(signal: AbortSignal): Promise<string> {
    const run = this.#driver.components?.bind(this.#driver);
    if (!run) return Promise.reject(new Error("this collector driver cannot run `components`"));
    this.#output ??= run(this.#signal);
    return raceAbort(this.#output, signal);
  }

  /**
   * What the binary offers the composition; nothing when the inventory cannot be read.
   * Parsed once per read: every config apply composes, and a contrib build's inventory is
   * hundreds of entries (parsing it took most of the supervisor's own share of an apply).
   */
  support(signal: AbortSignal): Promise<CollectorSupport> {
    if (!this.available) return Promise.resolve({ healthcheckV2: false });
    this.#support ??= this.components(this.#signal).then(
      (output) => {
        const parsed = parseComponents(output);
        const extensions = parsed.ok ? parsed.components.components.extensions : undefined;
        return { healthcheckV2: extensions?.subComponents.healthcheckv2 !== undefined };
      },
      () => ({ healthcheckV2: false }),
    );
    return raceAbort(this.#support, signal).catch(() => ({ healthcheckV2: false }));
  }

  /** The build's name and version from the inventory; undefined when it cannot say. */
  async buildInfo(signal: AbortSignal): Promise<VersionInfo | undefined> {
    if (!this.available) return undefined;
    try {
      return parseBuildInfo(await this.components(signal));
    } catch {
      return undefined;
    }
  }

  /** The binary was swapped: read it again next time. */
  forget(): void {
    this.#output = undefined;
    this.#support = undefined;
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
