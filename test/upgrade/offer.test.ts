import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { PackageType, PackagesAvailableSchema } from "../../src/gen/opamp_pb.js";
import { packagesFromWire as offerFromMessage } from "../../src/opamp/convert.js";
import { ADDON_REFUSAL, EXTRA_TOP_LEVEL_REFUSAL, planOffer } from "../../src/upgrade/offer.js";
import type { PackagesOffer } from "../../src/upgrade/offer.js";
import { EMPTY_STATE } from "../../src/upgrade/state.js";
import type { StoredPackageState } from "../../src/upgrade/state.js";

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

function offer(all: Uint8Array, packages: Array<{ name: string; addon?: boolean; hash: Uint8Array }>): PackagesOffer {
  return offerFromMessage(
    create(PackagesAvailableSchema, {
      allPackagesHash: all,
      packages: Object.fromEntries(
        packages.map((p) => [
          p.name,
          {
            type: p.addon ? PackageType.PackageType_Addon : PackageType.PackageType_TopLevel,
            version: "1.0",
            hash: p.hash,
            file: {
              downloadUrl: "http://x/p",
              contentHash: bytes(1),
              signature: bytes(2),
              headers: { headers: [{ key: "Authorization", value: "t" }] },
            },
          },
        ]),
      ),
    }),
  );
}

const state = (patch: Partial<StoredPackageState>): StoredPackageState => ({ ...EMPTY_STATE, failed: [], ...patch });

describe("PackagesAvailable as the upgrade room sees it (packagesFromWire)", () => {
  it("keeps names, kinds, hashes and the file, with header names lower-cased", () => {
    const o = offer(bytes(9), [
      { name: "", hash: bytes(1) },
      { name: "plugin", addon: true, hash: bytes(2) },
    ]);
    expect(o.packages.map((p) => [p.name, p.kind])).toEqual([
      ["", "top-level"],
      ["plugin", "addon"],
    ]);
    expect(o.packages[0]?.file).toEqual({
      url: "http://x/p",
      contentHash: bytes(1),
      signature: bytes(2),
      headers: { authorization: "t" },
    });
  });
});

describe("planOffer", () => {
  it("does nothing when the aggregate hash equals the last one processed", () => {
    expect(planOffer(offer(bytes(9), [{ name: "", hash: bytes(1) }]), state({ allPackagesHash: bytes(9) }))).toEqual({
      kind: "unchanged",
    });
  });

  it("installs a new top-level package and refuses add-ons", () => {
    const plan = planOffer(
      offer(bytes(9), [
        { name: "otelcol", hash: bytes(1) },
        { name: "plugin", addon: true, hash: bytes(2) },
      ]),
      state({}),
    );
    expect(plan).toMatchObject({
      kind: "process",
      collector: { kind: "install", pkg: { name: "otelcol" } },
      refused: [{ pkg: { name: "plugin" }, reason: ADDON_REFUSAL }],
    });
  });

  it("skips the package whose hash is installed, even under a new aggregate hash", () => {
    const installed = { name: "otelcol", version: "1", hash: bytes(1), contentHash: bytes(3) };
    expect(planOffer(offer(bytes(8), [{ name: "otelcol", hash: bytes(1) }]), state({ installed }))).toMatchObject({
      collector: { kind: "installed" },
    });
  });

  it("does not try a package hash that failed before", () => {
    expect(planOffer(offer(bytes(8), [{ name: "", hash: bytes(0xab) }]), state({ failed: ["ab"] }))).toMatchObject({
      collector: { kind: "known-bad" },
    });
  });

  it("takes one top-level package as the collector, preferring the installed name, and refuses the others", () => {
    const installed = { name: "b", version: "1", hash: bytes(5), contentHash: bytes(3) };
    const plan = planOffer(
      offer(bytes(8), [
        { name: "a", hash: bytes(1) },
        { name: "b", hash: bytes(2) },
      ]),
      state({ installed }),
    );
    expect(plan).toMatchObject({
      collector: { kind: "install", pkg: { name: "b" } },
      refused: [{ pkg: { name: "a" }, reason: EXTRA_TOP_LEVEL_REFUSAL }],
    });
  });

  it("handles an offer without a collector package", () => {
    expect(planOffer(offer(bytes(8), [{ name: "x", addon: true, hash: bytes(1) }]), state({}))).toMatchObject({
      collector: undefined,
    });
  });
});
