/**
 * The chaos loop: a seeded sequence of events against the built CLI and the stub; after each
 * one the world must settle, and then the invariants of the storage-faults issue hold:
 * exactly one collector, running the config the supervisor reports; the last working config
 * never lost; no orphan; no status left APPLYING; the state directory loads.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { PackageStatusEnum, RemoteConfigStatuses } from "../../src/gen/opamp_pb.js";
import { stubState } from "../e2e/harness.js";
import type { StubState } from "../e2e/harness.js";
import { EVENT_KINDS, freeDisk, newModel, runEvent } from "./events.js";
import type { EventKind, Model } from "./events.js";
import { collectorProcesses, makeWorld } from "./world.js";
import type { ChaosWorld } from "./world.js";

export interface ChaosOptions {
  seed: number;
  events: number;
  kinds: readonly EventKind[];
  /** How long one event may take to settle. */
  settleMs?: number;
  log?: (line: string) => void;
}

export interface Failure {
  seed: number;
  index: number;
  kind: EventKind;
  invariant: string;
  detail: string;
}

export interface ChaosReport {
  seed: number;
  events: Record<string, number>;
  checks: Record<string, number>;
  failures: Failure[];
  tmpfs: string;
  seconds: number;
}

/** mulberry32: the event sequence, reproducible from the printed seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const {
  RemoteConfigStatuses_APPLIED: APPLIED,
  RemoteConfigStatuses_APPLYING: APPLYING,
  RemoteConfigStatuses_FAILED: FAILED,
} = RemoteConfigStatuses;
const sameBytes = (a: Uint8Array | undefined, b: Uint8Array): boolean =>
  a !== undefined && Buffer.from(a).equals(Buffer.from(b));

/** JSON with sorted keys, to compare configs however they were written. */
function canonical(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v !== null && typeof v === "object"
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(sort(value));
}

interface Snapshot {
  procs: ReturnType<typeof collectorProcesses>;
  stub: StubState | undefined;
  remoteStatus: { status: number; hash: Uint8Array; error: string } | undefined;
  packageStatus: { status: number; hash: Uint8Array; version: string } | undefined;
  reported: string | undefined;
}

async function snapshot(world: ChaosWorld): Promise<Snapshot> {
  const received = world.server.received;
  const last = <T>(pick: (r: (typeof received)[number]) => T | undefined): T | undefined => {
    for (let i = received.length - 1; i >= 0; i--) {
      const v = pick(received[i] as (typeof received)[number]);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const rcs = last((r) => r.msg.remoteConfigStatus);
  const pkg = last((r) => r.msg.packageStatuses?.packages["otelcol"]);
  const effective = last((r) => r.msg.effectiveConfig?.configMap?.configMap[""]?.body);
  let reported: string | undefined;
  try {
    reported = effective ? canonical(parse(new TextDecoder().decode(effective))) : undefined;
  } catch {
    reported = "(unparsable)";
  }
  return {
    procs: collectorProcesses(world),
    stub: await stubState(world.ws),
    remoteStatus: rcs ? { status: rcs.status, hash: rcs.lastRemoteConfigHash, error: rcs.errorMessage } : undefined,
    packageStatus: pkg ? { status: pkg.status, hash: pkg.serverOfferedHash, version: pkg.agentHasVersion } : undefined,
    reported,
  };
}

/** Why the world has not settled yet (empty: settled). */
function unsettled(s: Snapshot, model: Model): string[] {
  const why: string[] = [];
  if (s.procs.length !== 1) why.push(`${s.procs.length} collectors running`);
  if (!s.stub?.healthy) why.push("collector not healthy");
  if (model.lastPush) {
    if (!sameBytes(s.remoteStatus?.hash, model.lastPush.hash))
      why.push(`no status yet for config ${model.lastPush.marker}`);
    else if (s.remoteStatus?.status === APPLYING) why.push(`config ${model.lastPush.marker} still APPLYING`);
    // Once the disk is free again, the supervisor's own retry must apply it.
    else if (
      model.lastPush.expect === "applied" &&
      model.lastPush.whileDiskFull &&
      model.diskFreeAt === undefined &&
      s.remoteStatus?.status !== APPLIED
    ) {
      why.push(`config ${model.lastPush.marker} not retried since the disk was freed`);
    }
  }
  if (model.lastOffer) {
    const done = [PackageStatusEnum.PackageStatusEnum_Installed, PackageStatusEnum.PackageStatusEnum_InstallFailed];
    if (!sameBytes(s.packageStatus?.hash, model.lastOffer.hash) || !done.includes(s.packageStatus?.status ?? -1))
      why.push(`package ${model.lastOffer.version} not settled`);
    // Once the disk is free again, the supervisor's own retry must install it.
    else if (awaitsRetry(model) && s.packageStatus?.status !== PackageStatusEnum.PackageStatusEnum_Installed)
      why.push(`package ${model.lastOffer.version} not retried since the disk was freed`);
  }
  if (s.stub && s.reported !== canonical(s.stub.config))
    why.push("the collector runs another config than the one reported");
  return why;
}

/** A good package offered while the disk was full, and the disk is free now. */
function awaitsRetry(model: Model): boolean {
  return model.lastOffer?.expect === "installed" && model.lastOffer.whileDiskFull && model.diskFreeAt === undefined;
}

function stateDirLoads(world: ChaosWorld): string | undefined {
  for (const name of readdirSync(world.ws.stateDir)) {
    if (!name.endsWith(".json")) continue;
    try {
      JSON.parse(readFileSync(join(world.ws.stateDir, name), "utf8"));
    } catch (err) {
      return `${name}: ${(err as Error).message}`;
    }
  }
  return undefined;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const random = seeded(options.seed);
  const settleMs = options.settleMs ?? 20_000;
  const world = await makeWorld();
  const model = newModel();
  const report: ChaosReport = {
    seed: options.seed,
    events: {},
    checks: {},
    failures: [],
    tmpfs: world.tmpfsRefused ?? "mounted",
    seconds: 0,
  };
  const started = Date.now();
  const kinds = options.kinds.filter((k) => k !== "disk-full" || world.tmpfs);
  const check = (index: number, kind: EventKind, invariant: string, problem: string | undefined): void => {
    report.checks[invariant] = (report.checks[invariant] ?? 0) + 1;
    if (problem === undefined) return;
    // The supervisor's last warnings say what it was doing.
    const tail = world.sup.logs
      .filter((l) => ["warn", "error", "fatal"].includes(l.level))
      .slice(-2)
      .map((l) => l.msg)
      .join(" | ");
    report.failures.push({
      seed: options.seed,
      index,
      kind,
      invariant,
      detail: tail ? `${problem} [supervisor: ${tail}]` : problem,
    });
    log(
      `chaos FAILURE seed=${options.seed} event #${index} (${kind}): ${invariant}: ${problem}${tail ? ` [supervisor: ${tail}]` : ""}`,
    );
  };
  try {
    // The starting point: connected, and the local config running healthy.
    const ready = Date.now() + settleMs;
    while (!(world.server.openSockets === 1 && (await stubState(world.ws))?.healthy) && Date.now() < ready)
      await new Promise((r) => setTimeout(r, 50));
    for (let index = 0; index < options.events; index++) {
      const kind = index === 0 ? "good-config" : (kinds[Math.floor(random() * kinds.length)] as EventKind);
      if (model.diskFreeAt === index) {
        freeDisk(world);
        model.diskFreeAt = undefined;
      }
      report.events[kind] = (report.events[kind] ?? 0) + 1;
      const t0 = Date.now();
      for (const p of await runEvent(kind, world, model, index, random)) check(index, kind, p.invariant, p.detail);

      let snap = await snapshot(world);
      const deadline = Date.now() + settleMs;
      while (unsettled(snap, model).length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        snap = await snapshot(world);
      }
      const why = unsettled(snap, model);
      log(`chaos #${index} ${kind}: ${why.length === 0 ? "settled" : "NOT settled"} in ${Date.now() - t0} ms`);
      check(index, kind, "settles", why.length > 0 ? why.join("; ") : undefined);
      if (why.length > 0 && model.lastPush && !sameBytes(snap.remoteStatus?.hash, model.lastPush.hash)) {
        // Reported once; later events should not fail on it again. Which config is the last
        // working one is unknown until the next one is APPLIED.
        model.lastPush = undefined;
        model.lastWorking = "?";
      }
      if (why.length > 0 && model.lastOffer && !sameBytes(snap.packageStatus?.hash, model.lastOffer.hash)) {
        model.lastOffer = undefined;
        model.version = "?";
      }
      if (
        why.length > 0 &&
        model.lastOffer &&
        snap.packageStatus !== undefined &&
        ![PackageStatusEnum.PackageStatusEnum_Installed, PackageStatusEnum.PackageStatusEnum_InstallFailed].includes(
          snap.packageStatus.status,
        )
      ) {
        model.lastOffer = undefined;
        model.version = "?";
      }
      check(
        index,
        kind,
        "exactly one collector",
        snap.procs.length === 1
          ? undefined
          : `${snap.procs.length} running: ${JSON.stringify(snap.procs.map((p) => p.pid))}`,
      );
      check(
        index,
        kind,
        "runs the reported config",
        snap.stub && snap.reported === canonical(snap.stub.config)
          ? undefined
          : "reported effective config differs from what the collector runs",
      );
      const supPid = world.sup.child.pid;
      check(
        index,
        kind,
        "no orphan",
        snap.procs.every((p) => p.ppid === supPid)
          ? undefined
          : `collector parents ${JSON.stringify(snap.procs.map((p) => p.ppid))}, supervisor ${supPid}`,
      );
      check(
        index,
        kind,
        "no status left APPLYING",
        snap.remoteStatus?.status === APPLYING
          ? `config ${model.lastPush?.marker} APPLYING after ${settleMs} ms`
          : undefined,
      );

      // The expected outcome, then what the collector must run because of it.
      if (model.lastPush && sameBytes(snap.remoteStatus?.hash, model.lastPush.hash)) {
        const status = snap.remoteStatus?.status;
        if (status === APPLIED) model.lastWorking = model.lastPush.marker;
        const want = model.lastPush.expect === "applied" ? APPLIED : FAILED;
        // While the disk is still full, FAILED (the refused write) is the expected outcome for now.
        const refusedForNow = model.lastPush.whileDiskFull && model.diskFreeAt !== undefined && status === FAILED;
        check(
          index,
          kind,
          "expected outcome",
          status === want || status === APPLYING || refusedForNow
            ? undefined
            : `config ${model.lastPush.marker}: status ${RemoteConfigStatuses[status ?? 0]}, expected ${RemoteConfigStatuses[want]} (${snap.remoteStatus?.error ?? ""})`,
        );
      }
      const exporters = Object.keys((snap.stub?.config["exporters"] as object | undefined) ?? {}).filter((e) =>
        /^debug\/e\d+$/.test(e),
      );
      const wanted = model.lastWorking === undefined ? [] : [`debug/${model.lastWorking}`];
      check(
        index,
        kind,
        "last working config kept",
        snap.stub === undefined || model.lastWorking === "?" || canonical(exporters) === canonical(wanted)
          ? undefined
          : `runs ${JSON.stringify(exporters)}, last working is ${JSON.stringify(wanted)}`,
      );
      if (model.lastOffer && sameBytes(snap.packageStatus?.hash, model.lastOffer.hash)) {
        if (snap.packageStatus?.status === PackageStatusEnum.PackageStatusEnum_Installed)
          model.version = model.lastOffer.version;
        else if (model.version === "?" && snap.stub) model.version = snap.stub.version; // known again
        const want =
          model.lastOffer.expect === "installed"
            ? PackageStatusEnum.PackageStatusEnum_Installed
            : PackageStatusEnum.PackageStatusEnum_InstallFailed;
        // While the disk is still full, the refused install is the expected outcome for now.
        const refusedForNow =
          model.lastOffer.whileDiskFull &&
          model.diskFreeAt !== undefined &&
          snap.packageStatus?.status === PackageStatusEnum.PackageStatusEnum_InstallFailed;
        check(
          index,
          kind,
          "expected outcome",
          snap.packageStatus?.status === want || refusedForNow
            ? undefined
            : `package ${model.lastOffer.version}: status ${PackageStatusEnum[snap.packageStatus?.status ?? 0]}`,
        );
      }
      check(
        index,
        kind,
        "collector version",
        snap.stub === undefined || model.version === "?" || snap.stub.version === model.version
          ? undefined
          : `runs ${snap.stub.version}, expected ${model.version}`,
      );
      check(index, kind, "state directory loads", stateDirLoads(world));
      check(
        index,
        kind,
        "supervisor alive",
        world.sup.child.exitCode === null && world.sup.child.signalCode === null
          ? undefined
          : `exited ${world.sup.child.exitCode ?? world.sup.child.signalCode}`,
      );
    }
  } finally {
    if (model.diskFreeAt !== undefined) freeDisk(world);
    model.blocker?.close();
    await world.close();
  }
  report.seconds = Math.round((Date.now() - started) / 1000);
  return report;
}

export { EVENT_KINDS };
export type { EventKind };
