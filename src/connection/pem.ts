/** PEM text helpers: split bundles into blocks, decode offered bytes, fingerprint content. */
import { createHash } from "node:crypto";

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

/** The PEM blocks in `text`, each with its BEGIN/END lines; `type` filters, e.g. "CERTIFICATE". */
export function pemBlocks(text: string, type?: string): string[] {
  const blocks: string[] = [];
  for (const match of text.matchAll(BLOCK)) {
    if (type === undefined || match[1] === type) blocks.push(`${match[0]}\n`);
  }
  return blocks;
}

/** True when `text` holds at least one PEM block that looks like a private key. */
export function looksLikePrivateKey(text: string): boolean {
  return pemBlocks(text).some((block) => /^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(block));
}

/** OpAMP carries PEM as bytes; they are ASCII text. */
export function pemFromBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("utf8");
}

/** Lower-case SHA-256 hex of a text: names files and tells contents apart without showing them. */
export function sha256Hex(text: string | Uint8Array): string {
  return createHash("sha256").update(text).digest("hex");
}
