import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  decodePrivateKeyPem,
  decodePublicKey,
  decodeSignature,
  encodePrivateKeyPem,
  encodePublicKey,
  generateKeyPair,
  keyId,
  publicKeyFromSeed,
  signDigest,
  verifyDigest,
} from "../../src/upgrade/keys.js";
import { sha256 } from "./fixtures.js";

describe("Ed25519 package keys", () => {
  it("signs the 32-byte digest and verifies it with the matching key only", () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    const digest = sha256("package bytes");
    const signature = signDigest(digest, a.seed);
    expect(signature).toHaveLength(64);
    expect(verifyDigest(digest, signature, [b.publicKey, a.publicKey])).toBe(1);
    expect(verifyDigest(digest, signature, [b.publicKey])).toBe(-1);
    expect(verifyDigest(sha256("other bytes"), signature, [a.publicKey])).toBe(-1);
  });

  it("refuses to sign anything but a SHA-256 digest", () => {
    expect(() => signDigest(new Uint8Array(31), generateKeyPair().seed)).toThrow(/32-byte/);
  });

  it("writes private keys as PKCS#8 PEM that Node's own crypto (OpenSSL) reads and agrees with", () => {
    const pair = generateKeyPair();
    const pem = encodePrivateKeyPem(pair.seed);
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(decodePrivateKeyPem(pem)).toEqual(pair.seed);
    const key = createPrivateKey(pem);
    const raw = createPublicKey(key).export({ format: "der", type: "spki" }).subarray(-32);
    expect(new Uint8Array(raw)).toEqual(pair.publicKey);
    // A signature made by OpenSSL verifies with tweetnacl, and the other way round.
    const digest = sha256("x");
    expect(verifyDigest(digest, new Uint8Array(nodeSign(null, digest, key)), [pair.publicKey])).toBe(0);
    expect(nodeVerify(null, digest, createPublicKey(key), signDigest(digest, pair.seed))).toBe(true);
  });

  it("rejects PEM that is not an Ed25519 private key", () => {
    expect(() => decodePrivateKeyPem("hello")).toThrow(/PRIVATE KEY/);
    const rsaLike =
      "-----BEGIN PRIVATE KEY-----\nMIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEA\n-----END PRIVATE KEY-----\n";
    expect(() => decodePrivateKeyPem(rsaLike)).toThrow(/not an Ed25519/);
  });

  it("encodes public keys as base64 of 32 bytes and names them with a stable key id", () => {
    const pair = generateKeyPair();
    const text = encodePublicKey(pair.publicKey);
    expect(text).toHaveLength(44);
    expect(decodePublicKey(text)).toEqual(pair.publicKey);
    expect(publicKeyFromSeed(pair.seed)).toEqual(pair.publicKey);
    expect(keyId(pair.publicKey)).toMatch(/^[0-9a-f]{16}$/);
    expect(keyId(pair.publicKey)).toBe(keyId(decodePublicKey(text)));
    expect(() => decodePublicKey("AAAA")).toThrow();
  });

  it("accepts a signature field as 64 raw bytes or as base64 text of them, nothing else", () => {
    const raw = signDigest(sha256("x"), generateKeyPair().seed);
    expect(decodeSignature(raw)).toEqual(raw);
    expect(decodeSignature(new TextEncoder().encode(Buffer.from(raw).toString("base64")))).toEqual(raw);
    expect(decodeSignature(new Uint8Array(63))).toBeNull();
    expect(decodeSignature(new TextEncoder().encode("not a signature"))).toBeNull();
  });
});
