import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { registerPackageCommands } from "../../src/upgrade/cli.js";
import { decodePrivateKeyPem, decodePublicKey, publicKeyFromSeed, verifyDigest } from "../../src/upgrade/keys.js";
import { sha256 } from "./fixtures.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "pkg-cli-"));
  process.exitCode = undefined;
});
afterEach(async () => {
  process.exitCode = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const program = new Command().exitOverride();
  registerPackageCommands(program, { out: (t) => (out += t), err: (t) => (err += t) });
  await program.parseAsync(["node", "opamp-supervisor", ...args]);
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, out, err };
}

describe("opamp-supervisor package", () => {
  it("keygen writes a 0600 PEM private key and a base64 public key, and never overwrites them", async () => {
    const prefix = join(dir, "ops");
    const first = await run("package", "keygen", "--out", prefix);
    expect(first.code).toBe(0);
    const seed = decodePrivateKeyPem(await readFile(`${prefix}.key`, "utf8"));
    const pub = decodePublicKey(await readFile(`${prefix}.pub`, "utf8"));
    expect(publicKeyFromSeed(seed)).toEqual(pub);
    expect((await stat(`${prefix}.key`)).mode & 0o777).toBe(0o600);
    expect(first.out).toContain(Buffer.from(pub).toString("base64"));
    expect((await run("package", "keygen", "--out", prefix)).code).toBe(1);
  });

  it("sign writes the raw signature over the file's SHA-256 and prints what the server must offer", async () => {
    const prefix = join(dir, "ops");
    await run("package", "keygen", "--out", prefix);
    const file = join(dir, "otelcol");
    await writeFile(file, "the binary");
    const signed = await run("package", "sign", file, "--key", `${prefix}.key`);
    expect(signed.code).toBe(0);
    const printed = JSON.parse(signed.out) as Record<string, string>;
    expect(printed["sha256"]).toBe(sha256("the binary").toString("hex"));
    const signature = await readFile(`${file}.sig`);
    expect(printed["signature_base64"]).toBe(signature.toString("base64"));
    const pub = decodePublicKey(await readFile(`${prefix}.pub`, "utf8"));
    expect(verifyDigest(sha256("the binary"), signature, [pub])).toBe(0);
  });

  it("verify accepts the signature with the right key or config, and fails otherwise", async () => {
    const prefix = join(dir, "ops");
    await run("package", "keygen", "--out", prefix);
    const other = join(dir, "other");
    await run("package", "keygen", "--out", other);
    const file = join(dir, "otelcol");
    await writeFile(file, "the binary");
    await run("package", "sign", file, "--key", `${prefix}.key`);
    const pub = (await readFile(`${prefix}.pub`, "utf8")).trim();
    const otherPub = (await readFile(`${other}.pub`, "utf8")).trim();
    expect((await run("package", "verify", file, "-s", `${file}.sig`, "-p", otherPub, pub)).out).toMatch(
      /signature OK/,
    );
    const base64 = (await readFile(`${file}.sig`)).toString("base64");
    expect((await run("package", "verify", file, "-s", base64, "-p", pub)).code).toBe(0);
    expect((await run("package", "verify", file, "-s", `${file}.sig`, "-p", otherPub)).code).toBe(1);
    expect(
      (await run("package", "verify", file, "-s", `${file}.sig`, "-p", pub, "--content-hash", "00".repeat(32))).err,
    ).toMatch(/content hash mismatch/);
    const config = join(dir, "supervisor.yaml");
    await writeFile(
      config,
      `server: {endpoint: "ws://h"}\nagent:\n  executable: /x\n  package:\n    verifier:\n      public_keys: ["${pub}"]\n`,
    );
    expect((await run("package", "verify", file, "-s", `${file}.sig`, "--config", config)).code).toBe(0);
    await writeFile(file, "tampered");
    expect((await run("package", "verify", file, "-s", `${file}.sig`, "-p", pub)).code).toBe(1);
  });

  it("sign refuses a key that is not an Ed25519 PEM", async () => {
    const file = join(dir, "otelcol");
    await writeFile(file, "x");
    await writeFile(join(dir, "bad.key"), "nope");
    const result = await run("package", "sign", file, "--key", join(dir, "bad.key"));
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/PRIVATE KEY/);
  });
});
