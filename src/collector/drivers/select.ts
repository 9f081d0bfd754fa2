/**
 * The one place that turns agent.run into a driver: `child` spawns the collector, `sidecar`
 * attaches to it in another container of the pod.
 */
import type { ResolvedConfig } from "../../config/schema.js";
import type { Deps } from "../../deps.js";
import { unreachable } from "../../errors.js";
import type { StateDir } from "../../storage/state-dir.js";
import type { CollectorDriver } from "../driver.js";
import { ChildDriver } from "./child.js";
import { SidecarDriver } from "./sidecar.js";

/** `signal`: the supervisor's lifetime. */
export function driverFor(
  config: ResolvedConfig,
  stateDir: StateDir,
  deps: Deps,
  signal: AbortSignal,
): CollectorDriver {
  const { agent } = config;
  switch (agent.run) {
    case "child":
      return new ChildDriver({
        executable: agent.executable,
        args: agent.args,
        env: agent.env,
        stateDir,
        output: agent.passthroughLogs ? { mode: "passthrough" } : { mode: "file" },
        tailBytes: Math.max(1, agent.collectorCrashLogSnippetKib) * 1024,
        stopTimeoutMs: agent.stopTimeoutMs,
        deps,
      });
    case "sidecar":
      return new SidecarDriver({
        executable: agent.executable,
        validateExecutable: agent.sidecar.validateExecutable,
        args: agent.args,
        env: agent.env,
        startTimeoutMs: agent.sidecar.startTimeoutMs,
        stopTimeoutMs: agent.stopTimeoutMs,
        signal,
        deps,
      });
    default:
      return unreachable(agent.run);
  }
}
