/**
 * The diff of a packages offer (the client's PackagesOffer) against what is installed:
 * the aggregate hash first, then per package. Hashes are the server's opaque bytes; they
 * are compared, never computed (OpAMP §3.12).
 */
import type { OfferedPackage, PackagesOffer } from "../opamp/domain.js";
import type { StoredPackageState } from "./state.js";

export type { OfferedFile, OfferedPackage, PackagesOffer } from "../opamp/domain.js";

export type CollectorPlan =
  /** The offered package is the one installed: nothing to do. */
  | { kind: "installed"; pkg: OfferedPackage }
  /** It failed before; not tried again until the server offers a different hash. */
  | { kind: "known-bad"; pkg: OfferedPackage }
  | { kind: "install"; pkg: OfferedPackage };

export type OfferPlan =
  /** The aggregate hash equals the last one processed to the end. */
  | { kind: "unchanged" }
  | { kind: "process"; collector: CollectorPlan | undefined; refused: Array<{ pkg: OfferedPackage; reason: string }> };

export const ADDON_REFUSAL =
  "add-on packages are not supported by this supervisor (only the top-level collector package is installed)";
export const EXTRA_TOP_LEVEL_REFUSAL =
  "only one top-level package (the collector) is supported; another one in this offer was taken as the collector";

export function planOffer(offer: PackagesOffer, state: StoredPackageState): OfferPlan {
  if (offer.allPackagesHash.length > 0 && sameBytes(offer.allPackagesHash, state.allPackagesHash))
    return { kind: "unchanged" };
  const refused: Array<{ pkg: OfferedPackage; reason: string }> = [];
  const topLevel = offer.packages.filter((p) => p.kind === "top-level");
  for (const pkg of offer.packages) if (pkg.kind === "addon") refused.push({ pkg, reason: ADDON_REFUSAL });
  // The collector is the top-level package already installed under that name, else the first by name.
  const chosen = topLevel.find((p) => p.name === state.installed?.name) ?? topLevel[0];
  for (const pkg of topLevel) if (pkg !== chosen) refused.push({ pkg, reason: EXTRA_TOP_LEVEL_REFUSAL });
  if (!chosen) return { kind: "process", collector: undefined, refused };
  const hex = Buffer.from(chosen.hash).toString("hex");
  let collector: CollectorPlan;
  if (state.installed && chosen.hash.length > 0 && sameBytes(state.installed.hash, chosen.hash))
    collector = { kind: "installed", pkg: chosen };
  else if (chosen.hash.length > 0 && state.failed.includes(hex)) collector = { kind: "known-bad", pkg: chosen };
  else collector = { kind: "install", pkg: chosen };
  return { kind: "process", collector, refused };
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}
