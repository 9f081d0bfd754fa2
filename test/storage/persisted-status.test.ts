/**
 * Storage faults inside a transaction, through the fs seam: ENOSPC, EROFS, EIO and EACCES at
 * any write. The server hears every status at once even when it cannot be persisted; the
 * newest status, the failed hashes and the audit lines reach the disk once writing works again.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Clock } from "../../src/deps.js";
import type { OpampClient } from "../../src/opamp/client.js";
import { AuditLog } from "../../src/storage/audit.js";
import { DOCUMENT_NAMES } from "../../src/storage/documents.js";
import { PersistedStatus, settleInterrupted } from "../../src/storage/persisted-status.js";
import type { OfferStatus } from "../../src/storage/persisted-status.js";
import type { StateDir } from "../../src/storage/state-dir.js";
import { openStateDir } from "../../src/storage/state-dir.js";
import { StateStore } from "../../src/storage/state.js";
import { StatusReporter } from "../../src/supervisor/reporter.js";
import type { ResolvedCapabilities } from "../../src/config/schema.js";
import { PackageStore } from "../../src/upgrade/state.js";
import { StatusBook } from "../../src/upgrade/statuses.js";
import type { StoredPackageStatuses } from "../../src/upgrade/state.js";
import { FaultyFs, recordingLogger } from "./helpers.js";
import type { FaultCode, LoggedLine } from "./helpers.js";

const clock: Clock = { now: () => Date.UTC(2026, 11, 2, 8, 0, 0), sleep: async () => undefined };
const FAULTS: FaultCode[] = ["ENOSPC", "EROFS", "EIO", "EACCES"];

let base: string;
let dir: StateDir;
let fs: FaultyFs;
let lines: LoggedLine[];
let store: StateStore;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "faults-test-"));
  dir = await openStateDir(join(base, "state"));
  fs = new FaultyFs();
  lines = [];
  store = new StateStore({ dir, clock, fs, logger: recordingLogger(lines) });
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const h = (n: number): Uint8Array => new Uint8Array([0xc0, n]);
const onDisk = async (): Promise<unknown> =>
  JSON.parse(await readFile(dir.file(DOCUMENT_NAMES.remoteConfigStatus), "utf8"));

/** A client that records what would go to the server, in order. */
function recordingClient(): { client: OpampClient; sent: Array<{ kind: string; value: Record<string, unknown> }> } {
  const sent: Array<{ kind: string; value: Record<string, unknown> }> = [];
  const client = {
    setStatus: (kind: string, value: Record<string, unknown>) => sent.push({ kind, value }),
  } as unknown as OpampClient;
  return { client, sent };
}

describe.each(FAULTS)("a write refused with %s", (code) => {
  it("the remote config status is sent anyway, and persisted once writing works again", async () => {
    const { client, sent } = recordingClient();
    const reporter = new StatusReporter(client, { reportsRemoteConfig: true } as ResolvedCapabilities, store);
    expect(await reporter.remoteConfigStatus({ hash: h(1), status: "APPLIED", errorMessage: "" })).toBe(true);

    fs.fault = code;
    const failed = {
      hash: h(2),
      status: "FAILED" as const,
      errorMessage: `cannot write the state directory (${code})`,
    };
    expect(await reporter.remoteConfigStatus({ hash: h(2), status: "APPLYING", errorMessage: "" })).toBe(false);
    expect(await reporter.remoteConfigStatus(failed)).toBe(false);
    const statuses = sent.filter((s) => s.kind === "remoteConfigStatus").map((s) => s.value["errorMessage"]);
    expect(statuses).toEqual(["", "", failed.errorMessage]);
    expect(reporter.remoteStatus).toEqual(failed);
    expect(await onDisk()).toMatchObject({ hash: "c001", status: "APPLIED" });
    // One warning for the episode, not one per refused write.
    expect(lines.filter((l) => l.level === "warn" && l.fields["what"] === "remote config status")).toHaveLength(1);

    fs.fault = undefined;
    expect(await reporter.flush()).toBe(true);
    expect(await onDisk()).toMatchObject({ hash: "c002", status: "FAILED", errorMessage: failed.errorMessage });
    expect(await new StateStore({ dir, clock }).readRemoteConfigStatus()).toEqual(failed);
  });

  it("a failed hash is remembered in memory and written with the next change", async () => {
    fs.fault = code;
    await store.addFailedConfigHash(h(3));
    expect(await store.isFailedConfigHash(h(3))).toBe(true);
    expect(await new StateStore({ dir, clock }).readFailedConfigHashes()).toEqual([]);
    fs.fault = undefined;
    await store.addFailedConfigHash(h(4));
    expect(await new StateStore({ dir, clock }).readFailedConfigHashes()).toEqual(["c003", "c004"]);
  });

  it("audit lines are kept in order and written once the disk accepts them", async () => {
    const audit = new AuditLog({ path: dir.file("audit.log"), clock, fs, logger: recordingLogger(lines) });
    await audit.append({ action: "before" });
    fs.fault = code;
    await expect(audit.append({ action: "during-1" })).resolves.toMatchObject({ action: "during-1" });
    await audit.append({ action: "during-2" });
    expect(audit.pendingLines).toBe(2);
    expect((await audit.read()).map((e) => e.action)).toEqual(["before"]);
    fs.fault = undefined;
    await audit.append({ action: "after" });
    expect((await audit.read()).map((e) => e.action)).toEqual(["before", "during-1", "during-2", "after"]);
    expect(lines.filter((l) => l.msg.includes("cannot write the audit log"))).toHaveLength(1);
  });

  it("package statuses reach the server and failed package hashes are kept", async () => {
    const packages = new PackageStore(store);
    const book = new StatusBook(packages, undefined);
    const seen: StoredPackageStatuses[] = [];
    book.attach((doc) => seen.push(doc));
    fs.fault = code;
    const status = {
      name: "",
      agentHasVersion: "0.1.0",
      agentHasHash: h(0),
      serverOfferedVersion: "0.2.0",
      serverOfferedHash: h(5),
      status: "INSTALL_FAILED" as const,
      errorMessage: `disk (${code})`,
    };
    await book.set(status);
    await packages.addFailed(h(5));
    expect(seen.at(-1)?.packages[""]).toEqual(status);
    expect((await packages.readState()).failed).toEqual(["c005"]);
    fs.fault = undefined;
    await packages.writeState(await packages.readState());
    expect((await new PackageStore(new StateStore({ dir, clock })).readState()).failed).toEqual(["c005"]);
  });
});

/** A status whose writes and sends are recorded in order, each write one tick long. */
function recordingStatus(): { status: PersistedStatus<number>; events: string[] } {
  const events: string[] = [];
  const status = new PersistedStatus<number>({
    what: "n",
    logger: recordingLogger(),
    send: (v) => events.push(`send ${v}`),
    write: async (v) => {
      await Promise.resolve();
      events.push(`write ${v}`);
    },
  });
  return { status, events };
}

describe("PersistedStatus", () => {
  it("writes before it sends while the disk works, in call order, so both end with the newest value", async () => {
    const { status, events } = recordingStatus();
    const first = status.set(1);
    const second = status.set(2);
    expect(status.current).toBe(2);
    expect(await Promise.all([first, second])).toEqual([true, true]);
    expect(events).toEqual(["write 1", "send 1", "write 2", "send 2"]);
  });

  it("with `after`, writes at once but sends only once that work is done, and not at all when it fails", async () => {
    const { status, events } = recordingStatus();
    let finish!: () => void;
    const kept = new Promise<void>((resolve) => (finish = resolve));
    const first = status.set(1, { after: kept });
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(["write 1"]);
    finish();
    expect(await first).toBe(true);
    expect(events).toEqual(["write 1", "send 1"]);

    const refused = Promise.reject(new Error("ENOSPC"));
    expect(await status.set(2, { after: refused })).toBe(true);
    expect(await status.set(3)).toBe(true);
    expect(events).toEqual(["write 1", "send 1", "write 2", "write 3", "send 3"]);
  });

  it("settles an interrupted transaction at start to what is in force, and leaves others alone", () => {
    const applying: OfferStatus = { hash: h(7), status: "APPLYING", errorMessage: "" };
    const inForce = (): OfferStatus => ({ hash: h(6), status: "APPLIED", errorMessage: "" });
    expect(settleInterrupted(applying, ["APPLYING"], inForce)).toEqual({ status: inForce(), interrupted: applying });
    const applied: OfferStatus = { hash: h(7), status: "APPLIED", errorMessage: "" };
    expect(settleInterrupted(applied, ["APPLYING"], inForce)).toEqual({ status: applied, interrupted: undefined });
    expect(settleInterrupted(undefined, ["APPLYING"], inForce)).toEqual({ status: undefined, interrupted: undefined });
  });
});
