/**
 * Never worse off because of the state directory, end to end with the built CLI: a corrupt
 * state document is set aside and the collector starts and reports; a full disk (a small
 * tmpfs) or a read-only one (a read-only bind mount) turns a pushed config into FAILED with
 * the reason while the collector keeps running, and the next push after the fault clears
 * is APPLIED.
 */
import { spawnSync } from "node:child_process";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RemoteConfigStatuses } from "../../src/gen/opamp_pb.js";
import { formatUuid } from "../../src/opamp/uuid.js";
import { DOCUMENT_NAMES, encodeRemoteConfig, encodeRemoteConfigStatus } from "../../src/storage/documents.js";
import { PACKAGE_DOCUMENTS } from "../../src/upgrade/state.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import type { Received } from "../support/opamp-test-server.js";
import { auditLines, makeWorkspace, startSupervisor, waitForStub } from "./harness.js";
import type { RunningSupervisor, StubState, Workspace } from "./harness.js";

const { RemoteConfigStatuses_APPLIED: APPLIED, RemoteConfigStatuses_FAILED: FAILED } = RemoteConfigStatuses;

let server: OpampTestServer;
const running: RunningSupervisor[] = [];
const mounts: string[] = [];

beforeEach(async () => {
  server = await OpampTestServer.start();
});
afterEach(async () => {
  for (const sup of running.splice(0)) await sup.kill();
  for (const point of mounts.splice(0).reverse()) spawnSync("umount", ["-l", point]);
  await server.close();
});

function launch(ws: Workspace): RunningSupervisor {
  const sup = startSupervisor(ws);
  running.push(sup);
  return sup;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const hash = (n: number): Uint8Array => new Uint8Array([0xd0, n]);
const marked = (marker: string): string =>
  `exporters:\n  debug/${marker}: {}\nservice:\n  pipelines:\n    traces:\n      exporters: [debug/${marker}]\n`;
/** A stored remote config with one marked file, to plant in the state directory. */
const remote = (n: number, marker: string) => ({
  hash: hash(n),
  configMap: { "remote.yaml": { body: enc(marked(marker)), contentType: "text/yaml" } },
});
const runs = (s: StubState, marker: string): boolean =>
  Object.keys((s.config["exporters"] as object) ?? {}).includes(`debug/${marker}`);

function push(h: Uint8Array, marker: string): number {
  const from = server.received.length;
  server.push({
    remoteConfig: {
      configHash: h,
      config: { configMap: { "remote.yaml": { body: enc(marked(marker)), contentType: "text/yaml" } } },
    },
  });
  return from;
}

function statusFor(h: Uint8Array, status: number, from = 0): Promise<Received> {
  return server.waitFor(
    (r) =>
      r.msg.remoteConfigStatus?.status === status &&
      Buffer.from(r.msg.remoteConfigStatus.lastRemoteConfigHash).equals(Buffer.from(h)),
    { from, timeoutMs: 15_000 },
  );
}

const healthy = (): Promise<Received> => server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 15_000 });

/** `content` "directory" plants a directory where the file should be. */
async function plant(ws: Workspace, name: string, content: string): Promise<void> {
  await mkdir(ws.stateDir, { recursive: true, mode: 0o700 });
  if (content === "directory") await mkdir(join(ws.stateDir, name));
  else await writeFile(join(ws.stateDir, name), content);
}

const setAside = async (ws: Workspace, name: string): Promise<string[]> =>
  (await readdir(ws.stateDir)).filter((f) => f.startsWith(`${name}.corrupt-`));

describe("a corrupt state document at start", () => {
  const cases: Array<[string, string]> = [
    [DOCUMENT_NAMES.instanceUid, '{"version":1,"uid":"0190'],
    [DOCUMENT_NAMES.lastWorkingRemoteConfig, ""],
    [DOCUMENT_NAMES.remoteConfigStatus, "\u0000\u0001garbage"],
    [DOCUMENT_NAMES.failedConfigHashes, '{"version":1,"hashes":"not a list"}'],
    [DOCUMENT_NAMES.lastReceivedRemoteConfig, "directory"],
    [PACKAGE_DOCUMENTS.state, "[1,2"],
  ];

  it.each(cases)(
    "%s: set aside, the collector starts, the supervisor reports and takes configs",
    async (name, content) => {
      const ws = await makeWorkspace({ endpoint: server.wsUrl });
      await plant(ws, name, content);
      const sup = launch(ws);
      await healthy();
      await waitForStub(ws);
      // Still a working agent: a config pushed now gets its status and runs.
      const from = push(hash(1), "after");
      await statusFor(hash(1), APPLIED, from);
      await waitForStub(ws, (s) => runs(s, "after") && s.healthy);
      expect(sup.child.exitCode).toBeNull();
      // Set aside when first read (at start, or with the first remote config for the failed hashes).
      expect(await setAside(ws, name)).toHaveLength(1);
      const warning = await sup.log(
        (l) => l.level === "warn" && String(l["file"]).endsWith(`/${name}`) && typeof l["lost"] === "string",
      );
      expect(warning.msg).toContain(name);
      expect((await auditLines(ws)).filter((l) => l["action"] === "state-file-corrupt")).toEqual([
        expect.objectContaining({ file: join(ws.stateDir, name) }),
      ]);
    },
  );

  it("a lost working config: the collector starts on the last received one, which the status proved", async () => {
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    await plant(ws, DOCUMENT_NAMES.lastReceivedRemoteConfig, JSON.stringify(encodeRemoteConfig(remote(2, "received"))));
    await plant(
      ws,
      DOCUMENT_NAMES.remoteConfigStatus,
      JSON.stringify(encodeRemoteConfigStatus({ hash: hash(2), status: "APPLIED", errorMessage: "" })),
    );
    await plant(ws, DOCUMENT_NAMES.lastWorkingRemoteConfig, '{"version":1,"hash":"d002","configMap":');
    launch(ws);
    await waitForStub(ws, (s) => runs(s, "received") && s.healthy);
    await statusFor(hash(2), APPLIED);
  });

  it("a stop between APPLIED and the working copy: the collector starts on the proven received config", async () => {
    // APPLIED is written alongside the working copy; here it landed and the new copy did not.
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    await plant(ws, DOCUMENT_NAMES.lastWorkingRemoteConfig, JSON.stringify(encodeRemoteConfig(remote(3, "older"))));
    await plant(ws, DOCUMENT_NAMES.lastReceivedRemoteConfig, JSON.stringify(encodeRemoteConfig(remote(4, "proven"))));
    await plant(
      ws,
      DOCUMENT_NAMES.remoteConfigStatus,
      JSON.stringify(encodeRemoteConfigStatus({ hash: hash(4), status: "APPLIED", errorMessage: "" })),
    );
    launch(ws);
    await waitForStub(ws, (s) => runs(s, "proven") && !runs(s, "older") && s.healthy);
    await statusFor(hash(4), APPLIED);
    expect((await auditLines(ws)).filter((l) => l["action"] === "remote-config-kept-at-start")).toEqual([
      expect.objectContaining({ hash: "d004", lastWorkingHash: "d003", result: "applied" }),
    ]);
  });

  it("a corrupt instance uid is replaced by agent.instance_id when it is set", async () => {
    const configured = "01936b2a-7c4e-7d3f-8a9b-0123456789ab";
    const ws = await makeWorkspace({ endpoint: server.wsUrl, agentExtra: `  instance_id: ${configured}\n` });
    await plant(ws, DOCUMENT_NAMES.instanceUid, "{{{");
    launch(ws);
    const first = await server.waitFor(() => true, { timeoutMs: 15_000 });
    expect(formatUuid(first.msg.instanceUid)).toBe(configured);
    await waitForStub(ws);
  });

  it("a corrupt instance uid without agent.instance_id: a new uid, logged as an identity change", async () => {
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    await plant(ws, DOCUMENT_NAMES.instanceUid, "");
    const sup = launch(ws);
    const first = await server.waitFor(() => true, { timeoutMs: 15_000 });
    const change = await sup.log((l) => /identity change/.test(l.msg));
    expect(change["instanceUid"]).toBe(formatUuid(first.msg.instanceUid));
    expect(await readFile(join(ws.stateDir, DOCUMENT_NAMES.instanceUid), "utf8")).toContain(
      formatUuid(first.msg.instanceUid),
    );
  });
});

/** True when this process may mount (root, or a container that allows it). */
function canMount(): boolean {
  const probe = spawnSync("sh", [
    "-c",
    'd=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d" && umount "$d"; s=$?; rmdir "$d"; exit $s',
  ]);
  return probe.status === 0;
}
const mountable = canMount();
if (!mountable)
  console.warn(
    "state-faults: mount is not permitted here (needs root or CAP_SYS_ADMIN); the tmpfs and read-only tests are skipped",
  );

function mount(args: string[]): void {
  const result = spawnSync("mount", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`mount ${args.join(" ")}: ${result.stderr}`);
}

describe.skipIf(!mountable)("disk faults inside a transaction", () => {
  async function faultyPush(
    ws: Workspace,
    code: RegExp,
    fault: () => Promise<void>,
    clear: () => Promise<void>,
  ): Promise<void> {
    const sup = launch(ws);
    await healthy();
    const before = await waitForStub(ws);
    await fault();

    const from = push(hash(10), "during");
    const failed = await statusFor(hash(10), FAILED, from);
    expect(failed.msg.remoteConfigStatus?.errorMessage).toMatch(code);
    expect(failed.msg.remoteConfigStatus?.errorMessage).toMatch(/the collector keeps its config/);
    const after = await waitForStub(ws);
    expect(after.pid).toBe(before.pid);
    expect(runs(after, "during")).toBe(false);
    expect(sup.child.exitCode).toBeNull();

    await clear();
    // The same config again: the disk was at fault, not the config, so it is applied now.
    const again = push(hash(10), "during");
    await statusFor(hash(10), APPLIED, again);
    await waitForStub(ws, (s) => runs(s, "during") && s.healthy);
    const next = push(hash(11), "cleared");
    await statusFor(hash(11), APPLIED, next);
    await waitForStub(ws, (s) => runs(s, "cleared") && s.healthy);
    // Written once the disk took writes again: the status, and the audit line of the failure.
    const status = JSON.parse(await readFile(join(ws.stateDir, DOCUMENT_NAMES.remoteConfigStatus), "utf8")) as Record<
      string,
      unknown
    >;
    expect(status).toMatchObject({ hash: "d00b", status: "APPLIED" });
    const audit = await auditLines(ws);
    expect(audit.find((l) => l["action"] === "remote-config-failed")).toMatchObject({ hash: "d00a", result: "failed" });
    expect(audit.filter((l) => l["action"] === "remote-config-applied").map((l) => l["hash"])).toEqual([
      "d00a",
      "d00b",
    ]);
  }

  it("a full state directory (ENOSPC): FAILED with the reason, the collector untouched, APPLIED once space is back", async () => {
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    await mkdir(ws.stateDir, { recursive: true, mode: 0o700 });
    mount(["-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", ws.stateDir]);
    mounts.push(ws.stateDir);
    const filler = join(ws.stateDir, "filler");
    await faultyPush(
      ws,
      /ENOSPC/,
      async () => {
        await writeFile(filler, Buffer.alloc(1024 * 1024)).catch((err: unknown) => {
          if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
        });
      },
      () => rm(filler),
    );
  });

  it("a restart on a full state directory: the collector starts on the config it ran before and the supervisor reports", async () => {
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    await mkdir(ws.stateDir, { recursive: true, mode: 0o700 });
    mount(["-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", ws.stateDir]);
    mounts.push(ws.stateDir);
    const first = launch(ws);
    await waitForStub(ws);
    expect((await first.stop()).code).toBe(0);
    await writeFile(join(ws.stateDir, "filler"), Buffer.alloc(1024 * 1024)).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
    });
    const from = server.received.length;
    const sup = launch(ws);
    await waitForStub(ws);
    await server.waitFor((r) => r.msg.health?.healthy === true, { from, timeoutMs: 15_000 });
    expect(sup.child.exitCode).toBeNull();
  });

  it("a read-only state directory (EROFS): FAILED with the reason, the collector untouched, APPLIED once writable", async () => {
    const ws = await makeWorkspace({ endpoint: server.wsUrl });
    await mkdir(ws.stateDir, { recursive: true, mode: 0o700 });
    mount(["--bind", ws.stateDir, ws.stateDir]);
    mounts.push(ws.stateDir);
    await faultyPush(
      ws,
      /EROFS/,
      async () => mount(["-o", "remount,bind,ro", ws.stateDir]),
      async () => mount(["-o", "remount,bind,rw", ws.stateDir]),
    );
  });
});
