/**
 * The trust decision for a downloaded package: the file must match the offered content_hash
 * (SHA-256), and the signature must verify over that digest with one of the trusted keys.
 */
import { DIGEST_BYTES, decodePublicKey, decodeSignature, keyId, verifyDigest } from "./keys.js";

export interface TrustPolicy {
  /** Decoded trusted public keys. */
  readonly publicKeys: readonly Uint8Array[];
  /** The operator's explicit opt-out: signatures are not checked at all. */
  readonly acceptUnsigned: boolean;
}

export type Verification = { ok: true; keyId: string | null } | { ok: false; reason: string };

export function trustPolicy(publicKeys: readonly string[], acceptUnsigned: boolean): TrustPolicy {
  return { publicKeys: publicKeys.map(decodePublicKey), acceptUnsigned };
}

/** An offer without a usable content_hash cannot be checked, so it is refused before downloading. */
export function checkContentHashField(contentHash: Uint8Array): string | null {
  if (contentHash.length === DIGEST_BYTES) return null;
  return contentHash.length === 0
    ? "the offer has no content_hash (SHA-256 of the file); it cannot be verified"
    : `the offer's content_hash is ${contentHash.length} bytes; a SHA-256 of ${DIGEST_BYTES} bytes is required`;
}

/** `digest` is the SHA-256 of what was downloaded. */
export function verifyPackage(input: {
  digest: Uint8Array;
  contentHash: Uint8Array;
  signature: Uint8Array;
  policy: TrustPolicy;
}): Verification {
  const { digest, contentHash, signature, policy } = input;
  const problem = checkContentHashField(contentHash);
  if (problem) return { ok: false, reason: problem };
  if (!Buffer.from(digest).equals(Buffer.from(contentHash))) {
    return {
      ok: false,
      reason: `content hash mismatch: the file's SHA-256 is ${hex(digest)}, the offer says ${hex(contentHash)}`,
    };
  }
  if (policy.acceptUnsigned) return { ok: true, keyId: null };
  if (signature.length === 0)
    return { ok: false, reason: "the package is not signed (DownloadableFile.signature is empty)" };
  const decoded = decodeSignature(signature);
  if (!decoded) {
    return {
      ok: false,
      reason: `the signature is ${signature.length} bytes; expected 64 raw Ed25519 signature bytes or their base64 text`,
    };
  }
  const index = verifyDigest(digest, decoded, policy.publicKeys);
  if (index < 0) {
    return {
      ok: false,
      reason: `the signature does not verify with any of the ${policy.publicKeys.length} trusted key(s) (bad signature or unknown signing key)`,
    };
  }
  return { ok: true, keyId: keyId(policy.publicKeys[index] as Uint8Array) };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}
