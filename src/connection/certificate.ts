/**
 * Certificate checks done before a certificate is ever used: the PEM parses, the clock is
 * inside its validity period, the private key belongs to it, and it chains to a trusted CA.
 * Failures are values naming the certificate (file or origin) and the reason; nothing here
 * ever puts key material into a message.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { rootCertificates } from "node:tls";
import type { KeyObject } from "node:crypto";
import { pemBlocks } from "./pem.js";

export type CertificateProblem = "unparsable" | "expired" | "not-yet-valid" | "key-mismatch" | "untrusted";

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** Milliseconds since the epoch. */
  notBefore: number;
  notAfter: number;
  /** SHA-256 fingerprint as printed by Node (colon-separated hex). */
  fingerprint: string;
}

export type CertificateCheck =
  { ok: true; info: CertificateInfo } | { ok: false; problem: CertificateProblem; message: string };

/** A set of trust anchors with a label for messages ("server.tls.ca_file /etc/ca.pem"). */
export interface TrustAnchors {
  pems: readonly string[];
  label: string;
}

export interface CheckCertificateOptions {
  /** The certificate, optionally followed by intermediates (a PEM bundle). */
  certPem: string;
  /** When given, the private key must belong to the certificate. */
  keyPem?: string;
  now: number;
  /** When given, the certificate must chain to one of these. */
  anchors?: readonly TrustAnchors[];
  /** Names the certificate in messages: "server.tls.cert_file /etc/agent.pem". */
  label: string;
}

export function checkCertificate(options: CheckCertificateOptions): CertificateCheck {
  const { label, now } = options;
  const parsed = parseBundle(options.certPem);
  if (typeof parsed === "string") return fail("unparsable", `${label}: ${parsed}`);
  const [leaf, ...intermediates] = parsed;
  if (!leaf) return fail("unparsable", `${label}: no PEM CERTIFICATE block found`);
  const info = describe(leaf);
  if (now < info.notBefore) {
    return fail("not-yet-valid", `${label}: not valid before ${iso(info.notBefore)} (now ${iso(now)})`);
  }
  if (now > info.notAfter) return fail("expired", `${label}: expired on ${iso(info.notAfter)}`);
  if (options.keyPem !== undefined) {
    const key = parsePrivateKey(options.keyPem);
    if (typeof key === "string") return fail("unparsable", `${label}: private key ${key}`);
    if (!keyMatches(leaf, key)) return fail("key-mismatch", `${label}: the private key does not match the certificate`);
  }
  if (options.anchors !== undefined) {
    const anchors: X509Certificate[] = [];
    for (const set of options.anchors) {
      for (const pem of set.pems) {
        const certs = parseBundle(pem);
        if (typeof certs === "string") return fail("unparsable", `${set.label}: ${certs}`);
        anchors.push(...certs);
      }
    }
    if (!chainsTo(leaf, intermediates, anchors)) {
      const names = options.anchors.map((a) => a.label).join(" or ");
      return fail(
        "untrusted",
        `${label}: issued by "${info.issuer}", which does not chain to ${names || "any trusted CA"}`,
      );
    }
  }
  return { ok: true, info };
}

/** Parses every certificate of a PEM bundle, or returns why it cannot be read. */
export function parseBundle(pem: string): X509Certificate[] | string {
  const blocks = pemBlocks(pem, "CERTIFICATE");
  if (blocks.length === 0) return "no PEM CERTIFICATE block found";
  try {
    return blocks.map((block) => new X509Certificate(block));
  } catch (err) {
    return `not a valid certificate (${(err as Error).message})`;
  }
}

/** Subject, issuer, validity and fingerprint of the first certificate in `pem`, if it parses. */
export function certificateInfo(pem: string): CertificateInfo | undefined {
  const certs = parseBundle(pem);
  return typeof certs === "string" || !certs[0] ? undefined : describe(certs[0]);
}

/** The system trust store Node was built with; used when no CA is configured. */
export const SYSTEM_ROOTS: TrustAnchors = { pems: rootCertificates, label: "the system CA roots" };

function describe(cert: X509Certificate): CertificateInfo {
  return {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    notBefore: Date.parse(cert.validFrom),
    notAfter: Date.parse(cert.validTo),
    fingerprint: cert.fingerprint256,
  };
}

function parsePrivateKey(pem: string): KeyObject | string {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The error text may quote parts of the input; only the code and a fixed reason are kept.
    return code === "ERR_MISSING_PASSPHRASE"
      ? "is encrypted (not supported)"
      : `cannot be read (${code ?? "invalid PEM"})`;
  }
}

function keyMatches(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    return false; // different key types
  }
}

function issued(issuer: X509Certificate, cert: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Walks leaf → intermediates until a trust anchor signed the current certificate. */
function chainsTo(leaf: X509Certificate, intermediates: X509Certificate[], anchors: X509Certificate[]): boolean {
  const pool = [...intermediates];
  let current = leaf;
  for (let depth = 0; depth < 10; depth++) {
    if (anchors.some((anchor) => anchor.fingerprint256 === current.fingerprint256 || issued(anchor, current)))
      return true;
    const index = pool.findIndex((candidate) => issued(candidate, current));
    const next = pool[index];
    if (!next) return false;
    pool.splice(index, 1);
    current = next;
  }
  return false;
}

function fail(problem: CertificateProblem, message: string): CertificateCheck {
  return { ok: false, problem, message };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function oneLine(name: string): string {
  return name.split("\n").filter(Boolean).join(", ");
}
