/**
 * Key pair and PKCS#10 certificate signing request for the OpAMP CSR flow. The private key
 * is generated here and never leaves the host: only the CSR (public key + subject, signed
 * with the private key) goes to the server.
 *
 * RSA-2048 because node-forge signs requests only with RSA keys. The key itself comes from
 * node:crypto (native, ~0.2 s) rather than forge's pure-JS generator (seconds).
 */
import { generateKeyPair } from "node:crypto";
import { promisify } from "node:util";
import { forge } from "./forge.js";

const generateKeyPairAsync = promisify(generateKeyPair);

export interface CertificateRequest {
  /** PKCS#8 PEM. Secret: store 0600, never log or send. */
  keyPem: string;
  /** PEM "CERTIFICATE REQUEST"; safe to send and log. */
  csrPem: string;
}

export interface CsrSubject {
  /** Canonical UUID text; becomes the CN and a urn:uuid: URI SAN so the server can bind the certificate to the agent. */
  instanceUid: string;
  /** Optional O= of the subject. */
  organization?: string;
}

export async function generateCertificateRequest(subject: CsrSubject): Promise<CertificateRequest> {
  const { privateKey } = await generateKeyPairAsync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  return { keyPem, csrPem: buildCsr(keyPem, subject) };
}

/** Builds and signs a CSR for an existing key (a retry re-sends a request for the same key). */
export function buildCsr(keyPem: string, subject: CsrSubject): string {
  const key = forge().pki.privateKeyFromPem(keyPem);
  const csr = forge().pki.createCertificationRequest();
  csr.publicKey = forge().pki.setRsaPublicKey(key.n, key.e);
  const attrs: Array<{ name: string; value: string }> = [{ name: "commonName", value: subject.instanceUid }];
  if (subject.organization) attrs.push({ name: "organizationName", value: subject.organization });
  csr.setSubject(attrs);
  csr.setAttributes([
    {
      name: "extensionRequest",
      extensions: [{ name: "subjectAltName", altNames: [{ type: 6, value: `urn:uuid:${subject.instanceUid}` }] }],
    },
  ]);
  csr.sign(key, forge().md.sha256.create());
  return forge().pki.certificationRequestToPem(csr);
}
