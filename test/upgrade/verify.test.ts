import { describe, expect, it } from "vitest";
import { encodePublicKey, signDigest } from "../../src/upgrade/keys.js";
import { checkContentHashField, trustPolicy, verifyPackage } from "../../src/upgrade/verify.js";
import { generateKeyPair, sha256 } from "./fixtures.js";

const trusted = generateKeyPair();
const rotated = generateKeyPair();
const stranger = generateKeyPair();
const policy = trustPolicy([encodePublicKey(trusted.publicKey), encodePublicKey(rotated.publicKey)], false);
const digest = sha256("the collector");

describe("verifyPackage", () => {
  it("accepts a file whose hash matches, signed by any trusted key, and names the key", () => {
    const byRotated = verifyPackage({
      digest,
      contentHash: digest,
      signature: signDigest(digest, rotated.seed),
      policy,
    });
    expect(byRotated).toEqual({ ok: true, keyId: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(verifyPackage({ digest, contentHash: digest, signature: signDigest(digest, trusted.seed), policy }).ok).toBe(
      true,
    );
  });

  it("checks the content hash before the signature", () => {
    const result = verifyPackage({
      digest,
      contentHash: sha256("else"),
      signature: signDigest(digest, trusted.seed),
      policy,
    });
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/^content hash mismatch/) });
  });

  it.each([
    ["missing", new Uint8Array(0), /not signed/],
    ["by an unknown key", signDigest(digest, stranger.seed), /does not verify with any of the 2 trusted key/],
    [
      "corrupt",
      (() => {
        const s = signDigest(digest, trusted.seed);
        s[0] = (s[0] ?? 0) ^ 1;
        return s;
      })(),
      /does not verify/,
    ],
    ["the wrong size", new Uint8Array(10), /10 bytes/],
  ])("refuses a signature that is %s", (_name, signature, reason) => {
    expect(verifyPackage({ digest, contentHash: digest, signature, policy })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(reason),
    });
  });

  it("with the opt-out, skips signatures but still checks the content hash", () => {
    const open = trustPolicy([], true);
    expect(verifyPackage({ digest, contentHash: digest, signature: new Uint8Array(0), policy: open })).toEqual({
      ok: true,
      keyId: null,
    });
    expect(verifyPackage({ digest, contentHash: sha256("x"), signature: new Uint8Array(0), policy: open }).ok).toBe(
      false,
    );
  });

  it("needs a 32-byte content_hash in the offer", () => {
    expect(checkContentHashField(new Uint8Array(0))).toMatch(/no content_hash/);
    expect(checkContentHashField(new Uint8Array(20))).toMatch(/20 bytes/);
    expect(checkContentHashField(digest)).toBeNull();
  });
});
