/**
 * Random package metadata (PackagesAvailable with odd names, types, versions, hashes, URLs,
 * headers, signatures) through the offer diff and the trust decision. Never an exception;
 * every package is either the one collector plan or refused with a reason; a package is
 * trusted only when its bytes match content_hash and a trusted key signed that digest.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { PackagesAvailableSchema } from "../../src/gen/opamp_pb.js";
import { packagesFromWire } from "../../src/opamp/convert.js";
import { ADDON_REFUSAL, EXTRA_TOP_LEVEL_REFUSAL, planOffer } from "../../src/upgrade/offer.js";
import type { StoredPackageState } from "../../src/upgrade/state.js";
import { generateKeyPair, signDigest } from "../../src/upgrade/keys.js";
import { verifyPackage } from "../../src/upgrade/verify.js";
import { TIMEOUT_MS, check, scale } from "./budget.js";
import { packagesAvailable } from "./frames.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

const state: fc.Arbitrary<StoredPackageState> = fc.record({
  allPackagesHash: fc.uint8Array({ maxLength: 4 }),
  installed: fc.option(
    fc.record({
      name: fc.constantFrom("", "otelcol", "x"),
      version: fc.string({ maxLength: 6 }),
      hash: fc.uint8Array({ maxLength: 4 }),
      contentHash: fc.uint8Array({ maxLength: 4 }),
    }),
    { nil: null },
  ),
  failed: fc.array(fc.uint8Array({ maxLength: 4 }).map(hex), { maxLength: 3 }),
});

describe("fuzz: package metadata", () => {
  it(
    "any PackagesAvailable against any stored state: a plan that accounts for every package, never an exception",
    () => {
      // Short hashes collide often, so "installed", "known-bad" and "unchanged" all happen.
      const shortHashes = packagesAvailable.map((init) => ({
        ...init,
        allPackagesHash: (init.allPackagesHash ?? new Uint8Array()).subarray(0, 1),
      }));
      check("package offer", fc.tuple(shortHashes, state), scale(500), ([init, stored]) => {
        const offer = packagesFromWire(create(PackagesAvailableSchema, init));
        const names = offer.packages.map((p) => p.name);
        expect(names).toEqual([...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
        for (const p of offer.packages)
          for (const key of Object.keys(p.file?.headers ?? {})) expect(key).toBe(key.toLowerCase());

        const plan = planOffer(offer, stored);
        if (plan.kind === "unchanged") {
          expect(offer.allPackagesHash.length).toBeGreaterThan(0);
          expect(hex(offer.allPackagesHash)).toBe(hex(stored.allPackagesHash));
          return;
        }
        const handled = [...(plan.collector ? [plan.collector.pkg] : []), ...plan.refused.map((r) => r.pkg)];
        expect(handled).toHaveLength(offer.packages.length);
        expect(new Set(handled)).toEqual(new Set(offer.packages));
        for (const r of plan.refused) expect([ADDON_REFUSAL, EXTRA_TOP_LEVEL_REFUSAL]).toContain(r.reason);
        const c = plan.collector;
        if (c === undefined) {
          expect(offer.packages.every((p) => p.kind === "addon")).toBe(true);
          return;
        }
        expect(c.pkg.kind).toBe("top-level");
        if (c.kind === "installed")
          expect(hex(c.pkg.hash)).toBe(hex(stored.installed?.hash ?? new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff])));
        if (c.kind === "known-bad") expect(stored.failed).toContain(hex(c.pkg.hash));
        if (c.pkg.hash.length === 0) expect(c.kind).toBe("install");
      });
    },
    TIMEOUT_MS,
  );

  it(
    "any digest, content_hash and signature: trusted only when the digest matches and a trusted key signed it",
    () => {
      const trusted = generateKeyPair();
      const other = generateKeyPair();
      const input = fc.record({
        digest: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        contentHash: fc.oneof(fc.constant("same" as const), fc.uint8Array({ maxLength: 40 })),
        signature: fc.oneof(
          fc.constantFrom("trusted" as const, "other" as const, "trusted-base64" as const),
          fc.uint8Array({ maxLength: 100 }),
          fc.string({ maxLength: 100 }).map((s) => new TextEncoder().encode(s)),
        ),
        flip: fc.option(fc.nat({ max: 63 * 8 }), { nil: undefined }),
        acceptUnsigned: fc.boolean(),
      });
      // tweetnacl signs and verifies in pure JS (~10 ms a pair here): a small slice.
      check("package verify", input, scale(120), ({ digest, contentHash, signature, flip, acceptUnsigned }) => {
        const hash = contentHash === "same" ? digest : contentHash;
        let sig: Uint8Array;
        if (signature === "trusted" || signature === "trusted-base64") sig = signDigest(digest, trusted.seed);
        else if (signature === "other") sig = signDigest(digest, other.seed);
        else sig = signature;
        if (flip !== undefined && sig.length === 64)
          sig = Uint8Array.from(sig, (b, i) => (i === flip >> 3 ? b ^ (1 << (flip & 7)) : b));
        if (signature === "trusted-base64") sig = new TextEncoder().encode(Buffer.from(sig).toString("base64"));
        const verdict = verifyPackage({
          digest,
          contentHash: hash,
          signature: sig,
          policy: { publicKeys: [trusted.publicKey], acceptUnsigned },
        });
        const matches = hash.length === 32 && hex(hash) === hex(digest);
        const signedByTrusted = (signature === "trusted" || signature === "trusted-base64") && flip === undefined;
        if (verdict.ok) {
          expect(matches).toBe(true);
          if (!acceptUnsigned) expect(signedByTrusted).toBe(true);
        } else {
          expect(verdict.reason.length).toBeGreaterThan(0);
          expect(matches && (acceptUnsigned || signedByTrusted)).toBe(false);
        }
      });
    },
    TIMEOUT_MS,
  );
});
