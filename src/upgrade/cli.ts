/**
 * `opamp-supervisor package keygen | sign | verify`: the tools a server operator uses to
 * produce packages this supervisor accepts. Signing never needs the server: keep the private
 * key off the OpAMP server, so a compromised server cannot sign anything.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { loadSupervisorConfig } from "../config/load.js";
import { ConfigError } from "../errors.js";
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
} from "./keys.js";

interface Output {
  out(text: string): void;
  err(text: string): void;
}

const stdio: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Adds the `package` command group to `program`. */
export function registerPackageCommands(program: Command, io: Output = stdio): void {
  const pkg = program
    .command("package")
    .description("make and check signed collector packages (Ed25519 over the file's SHA-256)");

  pkg
    .command("keygen")
    .description("create a signing key pair: <out>.key (private, PKCS#8 PEM, mode 0600) and <out>.pub (base64)")
    .option("-o, --out <prefix>", "file name prefix", "opamp-packages")
    .action(async (options: { out: string }) => {
      process.exitCode = await keygen(options.out, io);
    });

  pkg
    .command("sign")
    .description(
      "sign a package file; writes the 64-byte signature to <file>.sig and prints what the server must offer",
    )
    .argument("<file>", "the package file exactly as the server will serve it (binary or .tar.gz)")
    .requiredOption(
      "-k, --key <file>",
      "private key (PEM) from `package keygen` or `openssl genpkey -algorithm ed25519`",
    )
    .option("-o, --out <file>", "where to write the raw signature (default: <file>.sig)")
    .action(async (file: string, options: { key: string; out?: string }) => {
      process.exitCode = await sign(file, options.key, options.out ?? `${file}.sig`, io);
    });

  pkg
    .command("verify")
    .description("check a package file and signature the way the supervisor will")
    .argument("<file>", "the package file")
    .requiredOption(
      "-s, --signature <file-or-base64>",
      "the signature: a file (raw 64 bytes or base64 text) or base64 text",
    )
    .option("-p, --public-key <base64...>", "trusted public key(s)")
    .option(
      "-c, --config <file>",
      "take the trusted keys from this supervisor.yaml (agent.package.verifier.public_keys)",
    )
    .option("--content-hash <hex>", "also require the file's SHA-256 to equal this (the offer's content_hash)")
    .action(
      async (
        file: string,
        options: { signature: string; publicKey?: string[]; config?: string; contentHash?: string },
      ) => {
        process.exitCode = await verify(file, options, io);
      },
    );
}

async function keygen(prefix: string, io: Output): Promise<number> {
  const pair = generateKeyPair();
  const publicKey = encodePublicKey(pair.publicKey);
  try {
    // "wx": never overwrite a key someone may already rely on.
    await writeFile(`${prefix}.key`, encodePrivateKeyPem(pair.seed), { mode: 0o600, flag: "wx" });
    await writeFile(`${prefix}.pub`, `${publicKey}\n`, { mode: 0o644, flag: "wx" });
  } catch (err) {
    io.err(`opamp-supervisor: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  io.out(
    `private key: ${prefix}.key (keep it off the OpAMP server)\npublic key:  ${prefix}.pub\nkey id:      ${keyId(pair.publicKey)}\n\n` +
      `supervisor.yaml:\n  agent:\n    package:\n      verifier:\n        public_keys:\n          - ${publicKey}\n`,
  );
  return 0;
}

async function sign(file: string, keyFile: string, out: string, io: Output): Promise<number> {
  let seed: Uint8Array;
  try {
    seed = decodePrivateKeyPem(await readFile(keyFile, "utf8"));
  } catch (err) {
    io.err(`opamp-supervisor: ${keyFile}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const { digest, size } = await sha256(file);
  const signature = signDigest(digest, seed);
  await writeFile(out, signature);
  const result = {
    file,
    size,
    sha256: Buffer.from(digest).toString("hex"),
    content_hash_base64: Buffer.from(digest).toString("base64"),
    signature_file: out,
    signature_base64: Buffer.from(signature).toString("base64"),
    key_id: keyId(publicKeyFromSeed(seed)),
  };
  io.out(`${JSON.stringify(result, null, 2)}\n`);
  return 0;
}

async function verify(
  file: string,
  options: { signature: string; publicKey?: string[]; config?: string; contentHash?: string },
  io: Output,
): Promise<number> {
  const fail = (message: string): number => {
    io.err(`opamp-supervisor: ${message}\n`);
    return 1;
  };
  const keys: Uint8Array[] = [];
  try {
    for (const text of options.publicKey ?? []) keys.push(decodePublicKey(text));
    if (options.config) {
      const config = await loadSupervisorConfig(options.config, { env: process.env, checkHost: false });
      for (const text of config.agent.package.publicKeys) keys.push(decodePublicKey(text));
    }
  } catch (err) {
    if (err instanceof ConfigError)
      return fail(`invalid configuration ${err.path}:\n${err.problems.map((p) => `  - ${p}`).join("\n")}`);
    return fail(`public key: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (keys.length === 0) return fail("no trusted key: give --public-key or --config");
  const signature = decodeSignature(await readSignature(options.signature));
  if (!signature) return fail("the signature is neither 64 raw bytes nor the base64 of 64 bytes");
  const { digest } = await sha256(file);
  const hex = Buffer.from(digest).toString("hex");
  if (options.contentHash !== undefined && options.contentHash.toLowerCase() !== hex) {
    return fail(`content hash mismatch: the file's SHA-256 is ${hex}, expected ${options.contentHash}`);
  }
  const index = verifyDigest(digest, signature, keys);
  if (index < 0) return fail(`${file}: the signature does not verify with any of the ${keys.length} trusted key(s)`);
  io.out(`${file}: signature OK (key id ${keyId(keys[index] as Uint8Array)}, sha256 ${hex})\n`);
  return 0;
}

async function readSignature(value: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(value));
  } catch {
    return new Uint8Array(Buffer.from(value, "latin1"));
  }
}

async function sha256(file: string): Promise<{ digest: Uint8Array; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: new Uint8Array(hash.digest()), size };
}
