/**
 * Launching one collector child for CollectorProcess: spawn, output capture, the exit
 * promise (with the output tail), and the pidfile.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "../deps.js";
import { unreachable } from "../errors.js";
import type { StateDir } from "../storage/state-dir.js";
import { STATE_FILE_NAMES } from "../storage/state-dir.js";
import type { ChildRun, CollectorProcessOptions } from "./collector-types.js";
import type { ExitResult } from "./exit.js";
import { hasExited, waitForExit } from "./exit.js";
import type { OutputCapture, OutputSink } from "./output.js";
import { captureOutput } from "./output.js";
import { removePidFile, writePidFile } from "./pidfile.js";
import { spawnCollector } from "./spawn.js";

/** Bounded wait for the output pipes to drain after exit (a grandchild may hold them open). */
const OUTPUT_DRAIN_MS = 500;

/** Spawns the collector with `configPaths`; throws ProcessError SPAWN_FAILED. */
export async function launchChild(options: CollectorProcessOptions, configPaths: readonly string[]): Promise<ChildRun> {
  const spawned = await spawnCollector({
    executable: options.executable,
    configPaths,
    ...(options.args ? { args: options.args } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    ...(options.deathSignal !== undefined ? { deathSignal: options.deathSignal } : {}),
  });
  const output = captureOutput({
    stdout: spawned.child.stdout,
    stderr: spawned.child.stderr,
    sink: outputSink(options),
    ...(options.tailBytes !== undefined ? { tailBytes: options.tailBytes } : {}),
  });
  return {
    pid: spawned.pid,
    process: spawned.child,
    output,
    exit: exitWithTail(spawned.child, output),
    exitExpected: false,
  };
}

/** Checks at construction time that the output mode can be satisfied. */
export function validateOutputMode(options: CollectorProcessOptions): void {
  outputSink(options);
}

function outputSink(options: CollectorProcessOptions): OutputSink {
  const mode = options.output ?? { mode: "passthrough" };
  switch (mode.mode) {
    case "passthrough":
      return { kind: "passthrough", logger: options.deps.logger };
    case "file": {
      const path = mode.path ?? options.stateDir?.file(STATE_FILE_NAMES.collectorLog);
      if (path === undefined) throw new TypeError("output mode 'file' needs a path or a stateDir");
      return { kind: "file", path };
    }
    case "discard":
      return { kind: "discard" };
    default:
      return unreachable(mode);
  }
}

async function exitWithTail(child: ChildRun["process"], output: OutputCapture): Promise<ExitResult> {
  const status = await waitForExit(child);
  // Real time on purpose: an I/O guard, not policy (and unref'd, so it never holds the process).
  const drained = new AbortController();
  await Promise.race([
    output.done,
    delay(OUTPUT_DRAIN_MS, undefined, { signal: drained.signal, ref: false }).catch(() => undefined),
  ]);
  drained.abort();
  return { ...status, tail: output.tail() };
}

/** Writes the pidfile for `child`; a failure is logged, not thrown (the child runs anyway). */
export async function recordPid(dir: StateDir, child: ChildRun, executable: string, logger: Logger): Promise<void> {
  try {
    await writePidFile(dir, { pid: child.pid, executable });
    // A child that died during the write must not leave a pidfile behind.
    if (hasExited(child.process)) await removePidFile(dir);
  } catch (err) {
    if (!hasExited(child.process)) logger.warn({ err, pid: child.pid }, "could not write the collector pidfile");
  }
}

export async function forgetPid(dir: StateDir, logger: Logger): Promise<void> {
  await removePidFile(dir).catch((err: unknown) => logger.warn({ err }, "could not remove the collector pidfile"));
}
