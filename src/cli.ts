#!/usr/bin/env node
/**
 * Command line: `opamp-supervisor --config F` runs; `validate --config F` checks a file;
 * `package keygen|sign|verify` make and check package signatures.
 */
import { Command } from "commander";
import { loadConfigOrReport, runSupervisor } from "./main.js";
import { registerPackageCommands } from "./upgrade/cli.js";

const program = new Command()
  .name("opamp-supervisor")
  .description("Runs an OpenTelemetry Collector and manages it over OpAMP")
  .enablePositionalOptions()
  .option("-c, --config <file>", "supervisor configuration file (supervisor.yaml)")
  .action(async (options: { config?: string }) => {
    if (!options.config) program.error("error: --config <file> is required", { exitCode: 2 });
    process.exitCode = await runSupervisor(options.config as string);
  });

program
  .command("validate")
  .description("check a supervisor.yaml without running anything")
  .requiredOption("-c, --config <file>", "supervisor configuration file")
  .action(async (options: { config: string }) => {
    const config = await loadConfigOrReport(options.config);
    if (!config) {
      process.exitCode = 2;
      return;
    }
    process.stdout.write(`${config.sourcePath}: valid\n`);
  });

registerPackageCommands(program);

await program.parseAsync(process.argv);
