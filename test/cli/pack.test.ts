/**
 * Packaging as a user meets it: `npm pack` (its prepack builds dist/) and `npm install -g`
 * of the tarball into a temporary prefix give a working `opamp-supervisor`. Dependencies come
 * from npm's cache when they are there (--prefer-offline). The pack runs in a copy of the
 * sources, so its build never rewrites the dist/ other tests are running.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT, STUB } from "../e2e/harness.js";

const npm = process.platform === "win32" ? "npm.cmd" : "npm";
let prefix: string;
let bin: string;

beforeAll(() => {
  const packDir = mkdtempSync(join(tmpdir(), "pack-"));
  const source = mkdtempSync(join(tmpdir(), "pack-src-"));
  for (const entry of [
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "tsconfig.build.json",
    "README.md",
    "scripts",
    "src",
    "examples",
    "systemd",
  ]) {
    cpSync(join(ROOT, entry), join(source, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(source, "node_modules"), "dir");
  execFileSync(npm, ["pack", "--pack-destination", packDir, "--silent"], { cwd: source, stdio: "pipe" });
  const tarball = readdirSync(packDir).find((name) => name.endsWith(".tgz"));
  if (tarball === undefined) throw new Error("npm pack wrote no tarball");
  prefix = mkdtempSync(join(tmpdir(), "prefix-"));
  execFileSync(
    npm,
    ["install", "-g", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", join(packDir, tarball)],
    { stdio: "pipe" },
  );
  bin = join(prefix, "bin", "opamp-supervisor");
}, 240_000);

describe("npm pack + npm install -g", () => {
  it("installs an opamp-supervisor that prints its version", () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`opamp-supervisor ${version}\n`);
  });

  it("validates a real config, and the shipped example fails validate saying what to set", () => {
    const dir = mkdtempSync(join(tmpdir(), "pack-config-"));
    const config = join(dir, "supervisor.yaml");
    writeFileSync(
      config,
      `server:\n  endpoint: ws://127.0.0.1:4320/v1/opamp\nagent:\n  executable: ${STUB}\nstorage:\n  directory: ${join(dir, "state")}\n`,
    );
    expect(spawnSync(bin, ["validate", "--config", config], { encoding: "utf8" })).toMatchObject({
      status: 0,
      stdout: `${config}: valid\n`,
    });

    const example = join(prefix, "lib", "node_modules", "opamp-supervisor", "examples", "supervisor.yaml");
    const shipped = spawnSync(bin, ["validate", "--config", example], { encoding: "utf8" });
    expect(shipped.status).toBe(2);
    expect(shipped.stderr).toMatch(
      /agent\.executable: .* does not exist \(set agent\.executable to the collector binary/,
    );
  });

  it("ships the unit file and its drop-ins", () => {
    const root = join(prefix, "lib", "node_modules", "opamp-supervisor");
    expect(readdirSync(join(root, "systemd"))).toEqual(
      expect.arrayContaining(["opamp-supervisor.service", "drop-ins"]),
    );
    expect(readdirSync(join(root, "dist"))).toContain("cli.js");
  });
});
