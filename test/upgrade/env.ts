/** A throwaway host for upgrade unit tests: a fake collector (shell script), a state dir, a file server. */
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResolvedPackage } from "../../src/config/schema.js";
import { DEFAULTS } from "../../src/config/schema.js";
import type { CollectorControl } from "../../src/collector/controller.js";
import { failed } from "../../src/collector/outcome.js";
import type { ApplyOutcome } from "../../src/collector/outcome.js";
import { execaSpawner, silentLogger, systemClock } from "../../src/deps.js";
import { AuditLog, StateStore, openStateDir } from "../../src/storage/index.js";
import type { InstallEnv, UpgradeCheckpoint } from "../../src/upgrade/install.js";
import { encodePublicKey } from "../../src/upgrade/keys.js";
import type { KeyPair } from "../../src/upgrade/keys.js";
import type { OfferedPackage } from "../../src/upgrade/offer.js";
import { PackageStore } from "../../src/upgrade/state.js";
import { StatusBook } from "../../src/upgrade/statuses.js";
import { trustPolicy } from "../../src/upgrade/verify.js";
import { PackageFileServer } from "../support/package-file-server.js";
import { generateKeyPair, signPackage } from "./fixtures.js";

/** A collector stand-in: prints its version, accepts validate, or fails as told. */
export function fakeCollector(version: string, mode: "ok" | "bad-version" | "bad-validate" = "ok"): string {
  return `#!/bin/sh
case "$1" in
  --version) ${mode === "bad-version" ? 'echo "cannot execute binary file" >&2; exit 126' : `echo "otelcol version ${version}"`} ;;
  validate) ${mode === "bad-validate" ? 'echo "Error: unknown type: \\"fancy\\" for id: \\"fancy\\"" >&2; exit 1' : "exit 0"} ;;
esac
exit 0
`;
}

export type EnvPatch = Partial<Omit<InstallEnv, "settings" | "collector">> & {
  settings?: Partial<ResolvedPackage>;
  collector?: Partial<CollectorControl>;
};

export const PROVEN: ApplyOutcome = { ok: true, mode: "restart", timings: { validateMs: 0, applyMs: 0, healthMs: 0 } };

/** A proof that failed the health window, as the controller reports it. */
export function unproven(message: string, tail = ""): ApplyOutcome {
  return failed("unhealthy", message, { tail });
}

/** The controller as upgrade code sees it: proofs come from a script, calls are recorded. */
export function fakeCollectorControl(
  proofs: ApplyOutcome[],
  effective: string | null,
  calls: { restarts: Array<{ keepRunningOnFailure: boolean }>; versions: string[] },
): CollectorControl {
  return {
    effectiveConfigPath: () => effective,
    restartAndProve: async ({ keepRunningOnFailure }) => {
      calls.restarts.push({ keepRunningOnFailure });
      return proofs.shift() ?? PROVEN;
    },
    version: async () => ({ name: undefined, version: calls.versions.at(-1) ?? "0.1.0" }),
    versionChanged: (version) => void calls.versions.push(version),
  };
}

export interface Host {
  dir: string;
  exe: string;
  files: PackageFileServer;
  key: KeyPair;
  store: PackageStore;
  stateStore: StateStore;
  audit: AuditLog;
  book: StatusBook;
  checkpoints: UpgradeCheckpoint[];
  proofs: ApplyOutcome[];
  calls: { restarts: Array<{ keepRunningOnFailure: boolean }>; versions: string[] };
  env(patch?: EnvPatch): InstallEnv;
  offer(body: Buffer, patch?: Partial<OfferedPackage> & { signature?: Buffer; contentHash?: Buffer }): OfferedPackage;
  exeText(): Promise<string>;
  sideFiles(): Promise<string[]>;
  close(): Promise<void>;
}

export async function makeHost(): Promise<Host> {
  const dir = await mkdtemp(join(tmpdir(), "upgrade-"));
  const exe = join(dir, "bin", "otelcol");
  await mkdir(join(dir, "bin"));
  await writeFile(exe, fakeCollector("0.1.0"), { mode: 0o755 });
  await writeFile(join(dir, "effective.yaml"), "receivers: {}\n");
  const stateStore = new StateStore({ dir: await openStateDir(join(dir, "state")), clock: systemClock });
  const store = new PackageStore(stateStore);
  const audit = new AuditLog({ path: join(dir, "state", "audit.log"), clock: systemClock });
  const files = await PackageFileServer.start();
  const key = generateKeyPair();
  const book = new StatusBook(store, undefined);
  const checkpoints: UpgradeCheckpoint[] = [];
  const proofs: ApplyOutcome[] = [];
  const calls = { restarts: [] as Array<{ keepRunningOnFailure: boolean }>, versions: [] as string[] };
  let served = 0;
  return {
    dir,
    exe,
    files,
    key,
    store,
    stateStore,
    audit,
    book,
    checkpoints,
    proofs,
    calls,
    env(patch = {}) {
      const { settings, collector, ...rest } = patch;
      return {
        settings: {
          ...DEFAULTS.package,
          agentBinary: null,
          publicKeys: [encodePublicKey(key.publicKey)],
          insecureAcceptUnsignedPackages: false,
          progressIntervalMs: 10,
          ...settings,
        },
        executable: exe,
        args: [],
        env: {},
        store,
        book,
        audit,
        logger: silentLogger,
        clock: systemClock,
        signal: new AbortController().signal,
        policy: trustPolicy([encodePublicKey(key.publicKey)], false),
        checkpoint: (step) => checkpoints.push(step),
        tlsFor: async () => ({}),
        collector: { ...fakeCollectorControl(proofs, join(dir, "effective.yaml"), calls), ...collector },
        spawn: execaSpawner,
        ...rest,
      };
    },
    offer(body, patch = {}) {
      const signed = signPackage(body, key);
      const url = files.serve(`/pkg-${++served}`, { body });
      return {
        name: "otelcol",
        kind: "top-level",
        version: "0.2.0",
        hash: new Uint8Array([0xaa, served]),
        file: {
          url,
          contentHash: patch.contentHash ?? signed.contentHash,
          signature: patch.signature ?? signed.signature,
          headers: {},
        },
        ...patch,
      };
    },
    exeText: () => readFile(exe, "utf8"),
    sideFiles: async () => (await readdir(join(dir, "bin"))).filter((n) => n !== "otelcol").sort(),
    async close() {
      await files.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
