/**
 * A throwaway PKI for tests, built with node-forge: CAs, server and client certificates,
 * CSR signing. RSA keys come from node:crypto (native, fast) and are cached per process so
 * a test file pays for a handful of keys at most.
 */
import { generateKeyPairSync } from "node:crypto";
import type * as Forge from "node-forge";
import { forge } from "../../src/connection/forge.js";

export interface Key {
  pem: string;
  privateKey: Forge.pki.rsa.PrivateKey;
  publicKey: Forge.pki.rsa.PublicKey;
}

export interface Ca {
  certPem: string;
  cert: Forge.pki.Certificate;
  key: Key;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let serial = 1;
const keyPool: Key[] = [];

/** The `n`-th key of a small per-process pool; `fresh` makes a new one. */
export function key(n = 0): Key {
  while (keyPool.length <= n) keyPool.push(newKey());
  return keyPool[n] as Key;
}

export function newKey(): Key {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const priv = forge().pki.privateKeyFromPem(pem);
  return { pem, privateKey: priv, publicKey: forge().pki.setRsaPublicKey(priv.n, priv.e) };
}

export interface Validity {
  /** Milliseconds since the epoch; default one hour before `now`. */
  notBefore?: number;
  notAfter?: number;
  now?: number;
}

function window(v: Validity, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const now = v.now ?? Date.now();
  return { notBefore: new Date(v.notBefore ?? now - HOUR), notAfter: new Date(v.notAfter ?? now + defaultDays * DAY) };
}

/** A root CA, or an intermediate one when `parent` is given. */
export function makeCa(name: string, keyIndex = 10, validity: Validity = {}, parent?: Ca): Ca {
  const k = key(keyIndex);
  const cert = forge().pki.createCertificate();
  cert.publicKey = k.publicKey;
  cert.serialNumber = String(serial++).padStart(2, "0");
  const { notBefore, notAfter } = window(validity, 3650);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const subject = [{ name: "commonName", value: name }];
  cert.setSubject(subject);
  cert.setIssuer(parent ? parent.cert.subject.attributes : subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign((parent?.key ?? k).privateKey, forge().md.sha256.create());
  return { certPem: forge().pki.certificateToPem(cert), cert, key: k };
}

export interface IssueOptions extends Validity {
  cn: string;
  publicKey: Forge.pki.PublicKey;
  /** A server certificate for 127.0.0.1/localhost; else a client certificate. */
  server?: boolean;
  /** More DNS names for a server certificate. */
  names?: string[];
}

export function issue(ca: Ca, o: IssueOptions): string {
  const cert = forge().pki.createCertificate();
  cert.publicKey = o.publicKey;
  cert.serialNumber = String(serial++).padStart(2, "0");
  const { notBefore, notAfter } = window(o, 90);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: "commonName", value: o.cn }]);
  cert.setIssuer(ca.cert.subject.attributes);
  const extensions: object[] = [
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
    { name: "extKeyUsage", serverAuth: o.server === true, clientAuth: o.server !== true },
  ];
  if (o.server) {
    const names = ["localhost", ...(o.names ?? [])].map((value) => ({ type: 2, value }));
    extensions.push({ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }, ...names] });
  }
  cert.setExtensions(extensions);
  cert.sign(ca.key.privateKey, forge().md.sha256.create());
  return forge().pki.certificateToPem(cert);
}

/** A client certificate for key number `keyIndex`. */
export function clientCert(
  ca: Ca,
  keyIndex: number,
  validity: Validity & { cn?: string } = {},
): { certPem: string; keyPem: string } {
  const k = key(keyIndex);
  return {
    certPem: issue(ca, { cn: validity.cn ?? `client-${keyIndex}`, publicKey: k.publicKey, ...validity }),
    keyPem: k.pem,
  };
}

/** What a server that signs CSRs does: parse, check the signature, issue. Returns the subject CN too. */
export function signCsr(ca: Ca, csrPem: string, validity: Validity = {}): { certPem: string; cn: string } {
  const csr = forge().pki.certificationRequestFromPem(csrPem);
  if (!csr.verify()) throw new Error("CSR signature does not verify");
  const cn = String(csr.subject.getField("CN")?.value ?? "");
  return { certPem: issue(ca, { cn, publicKey: csr.publicKey as Forge.pki.PublicKey, ...validity }), cn };
}

/** HTTPS server options for the test server: requires client certificates from `clientCa`. */
export function mtlsServerOptions(
  serverCa: Ca,
  clientCa: Ca | Ca[],
): { key: string; cert: string; ca: string[]; requestCert: true; rejectUnauthorized: true } {
  const k = key(11);
  return {
    key: k.pem,
    cert: issue(serverCa, { cn: "opamp-test-server", publicKey: k.publicKey, server: true }),
    ca: (Array.isArray(clientCa) ? clientCa : [clientCa]).map((c) => c.certPem),
    requestCert: true,
    rejectUnauthorized: true,
  };
}

export { DAY, HOUR };
