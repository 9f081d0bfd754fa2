/**
 * The chaos events: what each does to the world, and what the supervisor should end up
 * reporting for it. Each takes the world, the model of what should hold, and a seeded random.
 */
import { createServer } from "node:net";
import type { Server } from "node:net";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { CommandType } from "../../src/gen/opamp_pb.js";
import { signPackage } from "../upgrade/fixtures.js";
import { pushOffer, stubBuild } from "../upgrade/e2e-support.js";
import { stubState } from "../e2e/harness.js";
import type { ChaosWorld } from "./world.js";
import { collectorProcesses, killQuietly, restartServer, restartSupervisor } from "./world.js";

export const EVENT_KINDS = [
  "good-config",
  "invalid-config",
  "crashing-config",
  "port-conflict-config",
  "restart-command",
  "package-good",
  "package-bad",
  "server-drop",
  "server-restart",
  "collector-sigkill",
  "supervisor-sigkill",
  "disk-full",
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** What should hold once the world settles; events update it. */
export interface Model {
  pushes: number;
  /** The remote config the server sent last: its hash, marker and expected outcome. */
  /** `whileDiskFull`: pushed while the state directory was full (FAILED for now, then retried). */
  lastPush: { hash: Uint8Array; marker: string; expect: "applied" | "failed"; whileDiskFull: boolean } | undefined;
  /** The marker of the last config reported APPLIED (none yet: the local config alone). */
  lastWorking: string | undefined;
  /**
   * The last package offer and its expected outcome. `whileDiskFull`: offered while the state
   * directory was full, so INSTALL_FAILED until the disk is freed, then installed by a retry.
   */
  lastOffer: { hash: Uint8Array; version: string; expect: "installed" | "failed"; whileDiskFull: boolean } | undefined;
  /** The collector version that should run. */
  version: string;
  offers: number;
  /** Event index at which the filled disk is freed again. */
  diskFreeAt: number | undefined;
  /** Held open so a config that listens on it fails to start. */
  blocker: Server | undefined;
  blockedPort: number;
}

export function newModel(): Model {
  return {
    pushes: 0,
    lastPush: undefined,
    lastWorking: undefined,
    lastOffer: undefined,
    version: "0.1.0",
    offers: 0,
    diskFreeAt: undefined,
    blocker: undefined,
    blockedPort: 0,
  };
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const markerOf = (n: number): string => `e${n}`;

/** A remote file that adds a marker exporter to the traces pipeline, plus `extra`. */
const marked = (marker: string, extra = ""): string =>
  `exporters:\n  debug/${marker}: {}\nservice:\n  pipelines:\n    traces:\n      exporters: [debug/${marker}]\n${extra}`;

function pushConfig(
  world: ChaosWorld,
  model: Model,
  body: (marker: string) => string,
  expect: "applied" | "failed",
): void {
  const n = ++model.pushes;
  const hash = new Uint8Array([0xc4, n >> 8, n & 0xff]);
  const marker = markerOf(n);
  model.lastPush = { hash, marker, expect, whileDiskFull: model.diskFreeAt !== undefined };
  world.server.push({
    remoteConfig: {
      configHash: hash,
      config: { configMap: { "chaos.yaml": { body: enc(body(marker)), contentType: "text/yaml" } } },
    },
  });
}

async function blockPort(model: Model): Promise<number> {
  if (model.blocker === undefined) {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    model.blocker = blocker;
    model.blockedPort = (blocker.address() as { port: number }).port;
  }
  return model.blockedPort;
}

async function offerPackage(world: ChaosWorld, model: Model, good: boolean): Promise<void> {
  const n = ++model.offers;
  const version = `0.2.${n}`;
  const body = await stubBuild(version);
  const path = `/otelcol-${n}`;
  const url = world.files.serve(path, { body });
  const signed = signPackage(body, world.key);
  // A bad offer: the bytes are fine but the signature is not over them.
  const signature = good ? signed.signature : signPackage(Buffer.concat([body, Buffer.from("x")]), world.key).signature;
  const hash = new Uint8Array([0xa0, n]);
  model.lastOffer = {
    hash,
    version,
    expect: good ? "installed" : "failed",
    whileDiskFull: model.diskFreeAt !== undefined,
  };
  pushOffer(
    world.server,
    { version, hash, url, contentHash: signed.contentHash, signature },
    new Uint8Array([0xaa, n]),
  );
}

const FILLER = ".chaos-filler";

/** Fills the state directory's filesystem until a write fails with ENOSPC. */
export function fillDisk(world: ChaosWorld): void {
  const fd = openSync(join(world.ws.stateDir, FILLER), "w");
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
  // The last partial chunk may leave a few bytes: use them up too.
  const tail = openSync(join(world.ws.stateDir, `${FILLER}-tail`), "w");
  try {
    for (;;) writeSync(tail, Buffer.alloc(512));
  } catch {
    // full
  } finally {
    closeSync(tail);
  }
}

export function freeDisk(world: ChaosWorld): void {
  rmSync(join(world.ws.stateDir, FILLER), { force: true });
  rmSync(join(world.ws.stateDir, `${FILLER}-tail`), { force: true });
}

async function until(ok: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/**
 * Runs one event. Returns problems seen while doing it (an orphan after the supervisor was
 * killed is seen here, before the new supervisor starts; a supervisor that never reconnects).
 */
export async function runEvent(
  kind: EventKind,
  world: ChaosWorld,
  model: Model,
  index: number,
  random: () => number,
): Promise<Array<{ invariant: string; detail: string }>> {
  const problems: Array<{ invariant: string; detail: string }> = [];
  // What the server sends needs a connection to go over (after a drop, the supervisor reconnects).
  const sends = kind.endsWith("-config") || kind.startsWith("package-") || kind === "restart-command";
  if (sends && !(await until(() => world.server.openSockets === 1, 15_000)))
    problems.push({ invariant: "reconnects", detail: "the supervisor did not reconnect within 15 s" });
  switch (kind) {
    case "good-config":
      pushConfig(world, model, (m) => marked(m), "applied");
      break;
    case "invalid-config":
      pushConfig(world, model, (m) => marked(m, `stub:\n  invalid: "chaos: config ${m} is invalid"\n`), "failed");
      break;
    case "crashing-config":
      pushConfig(world, model, (m) => marked(m, "stub:\n  crash_after_ms: 30\n  exit_code: 3\n"), "failed");
      break;
    case "port-conflict-config": {
      const port = await blockPort(model);
      pushConfig(
        world,
        model,
        (m) =>
          `${marked(m)}    logs:\n      receivers: [otlp/busy]\n      exporters: [debug]\n` +
          `receivers:\n  otlp/busy:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:${port}\n`,
        "failed",
      );
      break;
    }
    case "restart-command": {
      const before = (await stubState(world.ws))?.pid;
      world.server.push({ command: { type: CommandType.CommandType_Restart } });
      const restarted = async (): Promise<boolean> => {
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline) {
          const pid = (await stubState(world.ws))?.pid;
          if (pid !== undefined && pid !== before) return true;
          await new Promise((r) => setTimeout(r, 25));
        }
        return false;
      };
      if (!(await restarted()))
        problems.push({
          invariant: "restart command restarts",
          detail: `collector ${before} not restarted within 10 s`,
        });
      break;
    }
    case "package-good":
      await offerPackage(world, model, true);
      break;
    case "package-bad":
      await offerPackage(world, model, false);
      break;
    case "server-drop":
      world.server.dropConnections();
      break;
    case "server-restart":
      await restartServer(world, 100 + Math.floor(random() * 700));
      break;
    case "collector-sigkill": {
      const state = await stubState(world.ws);
      if (state) {
        killQuietly(state.pid);
        await until(() => !collectorProcesses(world).some((p) => p.pid === state.pid), 3_000);
      }
      break;
    }
    case "supervisor-sigkill": {
      await world.sup.kill();
      // No orphan: the collector dies with its supervisor.
      if (!(await until(() => collectorProcesses(world).length === 0, 3_000))) {
        problems.push({
          invariant: "no orphan",
          detail: `collector ${JSON.stringify(collectorProcesses(world).map((p) => p.pid))} still running 3 s after the supervisor was killed`,
        });
      }
      restartSupervisor(world);
      break;
    }
    case "disk-full":
      if (world.tmpfs) {
        fillDisk(world);
        model.diskFreeAt = index + 2 + Math.floor(random() * 2);
      }
      break;
  }
  return problems;
}
