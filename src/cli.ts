#!/usr/bin/env node
/**
 * Command line: `opamp-supervisor --config F` runs; `validate --config F` checks a file the
 * way a start does (problems: exit 2; warnings printed, exit 0); `init-config --config F` writes
 * effective.yaml for a sidecar collector and exits; `--version` / `version`;
 * `package keygen|sign|verify` make and check package signatures; `status` shows what a
 * supervisor is doing (src/status/). Usage errors exit 2, so
 * systemd does not restart a unit whose command line is wrong. The official Go
 * supervisor's spellings `-config F` and `--feature-gates G` are accepted too.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { loadConfigOrReport, runInitConfig, runSupervisor } from "./main.js";
import { registerStatusCommand } from "./status/command.js";
import { registerPackageCommands } from "./upgrade/cli.js";

const USAGE_EXIT_CODE = 2;

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version?: string;
  };
  return manifest.version ?? "unknown";
}

/** Go's flag package takes `-config F` and `-config=F`; commander would read `-c onfig`. */
function normalizeGoFlags(argv: readonly string[]): string[] {
  return argv.map((arg) => {
    const match = /^-(config|feature-gates)(=.*)?$/.exec(arg);
    return match ? `--${match[1] ?? ""}${match[2] ?? ""}` : arg;
  });
}

const version = packageVersion();
const program = new Command()
  .name("opamp-supervisor")
  .description("Runs an OpenTelemetry Collector and manages it over OpAMP")
  .version(`opamp-supervisor ${version}`, "-v, --version", "print the version")
  .enablePositionalOptions()
  .exitOverride()
  .option("-c, --config <file>", "supervisor configuration file (supervisor.yaml)")
  // The Go supervisor's gate for server.auth; nothing here is behind a gate.
  .option("--feature-gates <gates>", "accepted for compatibility with the official Go supervisor; ignored")
  .action(async (options: { config?: string }) => {
    if (!options.config) program.error("error: --config <file> is required", { exitCode: USAGE_EXIT_CODE });
    process.exitCode = await runSupervisor(options.config as string);
  });

program
  .command("version")
  .description("print the version")
  .action(() => {
    process.stdout.write(`opamp-supervisor ${version}\n`);
  });

program
  .command("validate")
  .description("check a supervisor.yaml as a start would, without running anything")
  .requiredOption("-c, --config <file>", "supervisor configuration file")
  .action(async (options: { config: string }) => {
    const config = await loadConfigOrReport(options.config);
    if (!config) {
      process.exitCode = 2;
      return;
    }
    for (const warning of config.warnings) process.stderr.write(`opamp-supervisor: warning: ${warning}\n`);
    const note =
      config.warnings.length === 0
        ? ""
        : ` (${config.warnings.length} warning${config.warnings.length === 1 ? "" : "s"})`;
    process.stdout.write(`${config.sourcePath}: valid${note}\n`);
  });

program
  .command("init-config")
  .description(
    "write the config a start would run (last working, fallbacks, local) into the state directory as effective.yaml, and exit",
  )
  .requiredOption("-c, --config <file>", "supervisor configuration file")
  .action(async (options: { config: string }) => {
    process.exitCode = await runInitConfig(options.config);
  });

registerPackageCommands(program);
registerStatusCommand(program);

try {
  await program.parseAsync(normalizeGoFlags(process.argv));
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  // Help and --version end with 0; every usage error with 2 (commander already printed it).
  process.exitCode = err.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
}
