/**
 * `opamp-supervisor status [--config F] [--json] [--lines N]`. Exit codes: 0 a report was
 * printed, 2 the config is invalid (or usage), 3 nothing to report: the supervisor does not
 * answer and its state directory does not exist (it never ran with this config here), kept
 * apart from 1 so scripts can tell "not set up" from "broken".
 */
import type { Command } from "commander";
import { loadConfigOrReport } from "../main.js";
import { StateDirMissing, readStatus } from "./read.js";
import { renderStatus } from "./render.js";

export const DEFAULT_CONFIG_PATH = "/etc/opamp-supervisor/supervisor.yaml";
export const STATE_DIR_MISSING_EXIT_CODE = 3;

export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description("show what the supervisor is doing (live from healthcheck.endpoint, else from the state directory)")
    .option("-c, --config <file>", "supervisor configuration file", DEFAULT_CONFIG_PATH)
    .option("--json", "print the report as JSON, for scripts")
    .option("--lines <n>", "audit lines to show", "10")
    .action(async (options: { config: string; json?: boolean; lines: string }) => {
      const config = await loadConfigOrReport(options.config);
      if (!config) {
        process.exitCode = 2;
        return;
      }
      const lines = Number.parseInt(options.lines, 10);
      const nowMs = Date.now();
      try {
        const report = await readStatus(config, {
          auditLines: Number.isFinite(lines) && lines >= 0 ? lines : 10,
          nowMs,
        });
        process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report, nowMs));
      } catch (err) {
        if (!(err instanceof StateDirMissing)) throw err;
        process.stderr.write(`opamp-supervisor: ${err.message}\n`);
        process.exitCode = STATE_DIR_MISSING_EXIT_CODE;
      }
    });
}
