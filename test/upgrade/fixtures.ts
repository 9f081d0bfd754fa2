/** Builders for package fixtures: hand-made tar.gz archives (including hostile ones) and signatures. */
import { createHash, generateKeyPairSync } from "node:crypto";
import { createRequire } from "node:module";
import type * as Forge from "node-forge";
import { gzipSync } from "node:zlib";
import { Header } from "tar";
import { generateKeyPair, signDigest } from "../../src/upgrade/keys.js";
import type { KeyPair } from "../../src/upgrade/keys.js";

export interface TarEntry {
  path: string;
  type?: "File" | "Directory" | "SymbolicLink" | "Link" | "CharacterDevice" | "FIFO";
  body?: Buffer | string;
  linkpath?: string;
  mode?: number;
  /** Declared size when it must differ from the body (hostile headers). */
  size?: number;
}

/** A tar stream written header by header, so tests can make archives tar itself would refuse to create. */
export function makeTar(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = entry.body === undefined ? Buffer.alloc(0) : Buffer.from(entry.body);
    const header = new Header({
      path: entry.path,
      type: entry.type ?? "File",
      size: entry.size ?? body.length,
      mode: entry.mode ?? (entry.type === "Directory" ? 0o755 : 0o755),
      mtime: new Date(0),
      uid: 0,
      gid: 0,
      ...(entry.linkpath !== undefined ? { linkpath: entry.linkpath } : {}),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export function makeTarGz(entries: TarEntry[]): Buffer {
  return gzipSync(makeTar(entries));
}

export function sha256(data: Buffer | string): Buffer {
  return createHash("sha256").update(data).digest();
}

export interface SignedPackage {
  body: Buffer;
  contentHash: Buffer;
  signature: Buffer;
}

export function signPackage(body: Buffer, key: KeyPair): SignedPackage {
  const contentHash = sha256(body);
  return { body, contentHash, signature: Buffer.from(signDigest(contentHash, key.seed)) };
}

export { generateKeyPair };

/** A self-signed RSA certificate for `ip` (node-forge loaded the CommonJS way), for https tests. */
export function selfSigned(ip: string): { cert: string; key: string } {
  const forge = createRequire(import.meta.url)("node-forge") as typeof Forge;
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const priv = forge.pki.privateKeyFromPem(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(priv.n, priv.e);
  cert.serialNumber = "01";
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3_600_000);
  const attrs = [{ name: "commonName", value: "package server" }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([{ name: "subjectAltName", altNames: [{ type: 7, ip }] }]);
  cert.sign(priv, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keyPem };
}
