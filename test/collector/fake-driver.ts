/**
 * A collector driver without processes, for unit tests of the controller and the
 * transactions above it. Each run reads its config file (as a collector would) and behaves
 * as the config's `fake:` section says, like the e2e stub's `stub:` keys:
 *
 *   fake: { invalid: "<message>" }      validate refuses it with "Error: <message>"
 *   fake: { unhealthy: true }           the health endpoint answers 503
 *   fake: { starting_checks: n }        refuses the first n checks (still starting), then healthy
 *   fake: { unhealthy_after_checks: n } healthy for n checks, then 503
 *   fake: { crash_after_checks: n }     exits with code 7 ("panic: boom") after n checks
 *
 * `probe` is the controller's probeFor seam: it answers for the run that is current.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import type { CollectorDriver, CollectorRun, ShutdownAction, VersionInfo } from "../../src/collector/driver.js";
import { ProcessError } from "../../src/errors.js";
import type { Probe, ProbeResult } from "../../src/health/probe.js";
import type { ValidateResult } from "../../src/process/commands.js";
import type { ExitResult } from "../../src/process/exit.js";

export interface Behaviour {
  invalid?: string;
  unhealthy?: boolean;
  starting_checks?: number;
  unhealthy_after_checks?: number;
  crash_after_checks?: number;
}

export class FakeRun implements CollectorRun {
  readonly exit: Promise<ExitResult>;
  config: Record<string, unknown>;
  reloads = 0;
  checks = 0;
  /** Checks the service from before the last reload still answers (healthy, old upSince). */
  staleChecks = 0;
  staleUpSince = "";
  /** Changes with every start and reload, as the health_check extension's upSince does. */
  upSince: string;
  #resolve!: (exit: ExitResult) => void;
  #ended = false;
  readonly #output: string[] = [];

  constructor(
    readonly pid: number,
    readonly configPath: string,
    config: Record<string, unknown>,
    upSince: string,
  ) {
    this.config = config;
    this.upSince = upSince;
    this.exit = new Promise((resolve) => (this.#resolve = resolve));
    this.say("collector starting");
  }

  get alive(): boolean {
    return !this.#ended;
  }

  /** Set from FakeDriver.binary at start: how "the binary" behaves whatever the config says. */
  binary: Behaviour | undefined;

  get behaviour(): Behaviour {
    if (this.binary) return this.binary;
    const fake = this.config["fake"];
    return typeof fake === "object" && fake !== null ? fake : {};
  }

  say(line: string): void {
    this.#output.push(line);
  }

  tail(): string {
    return this.#output.join("\n");
  }

  end(exit: Omit<ExitResult, "tail">): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#resolve({ ...exit, tail: this.tail() });
  }
}

export class FakeDriver implements CollectorDriver {
  atShutdown: ShutdownAction = "stop";
  readonly runs: FakeRun[] = [];
  readonly validated: string[] = [];
  /** Errors the next starts throw, in order (e.g. a missing executable). */
  readonly startFailures: Error[] = [];
  version_ = "0.1.0";
  /** Behaviour of the binary now "at the executable path" (a package swap); undefined: the config decides. */
  binary: Behaviour | undefined;
  /** How many checks after a SIGHUP the old service still answers. */
  reloadLag = 0;
  #pid = 1000;
  #generation = 0;

  get current(): FakeRun | undefined {
    const last = this.runs.at(-1);
    return last?.alive ? last : undefined;
  }

  /** Runs that were started (a reload is not a start). */
  get starts(): number {
    return this.runs.length;
  }

  async start(configPath: string): Promise<CollectorRun> {
    const failure = this.startFailures.shift();
    if (failure) throw failure;
    const run = new FakeRun(++this.#pid, configPath, readConfig(configPath), `up-${++this.#generation}`);
    run.binary = this.binary;
    this.runs.push(run);
    return run;
  }

  async stop(run: CollectorRun): Promise<ExitResult> {
    (run as FakeRun).end({ code: null, signal: "SIGTERM" });
    return run.exit;
  }

  reload(run: CollectorRun): void {
    const fake = run as FakeRun;
    fake.reloads++;
    fake.staleChecks = this.reloadLag;
    fake.staleUpSince = fake.upSince;
    fake.config = readConfig(fake.configPath);
    fake.checks = 0;
    fake.upSince = `up-${++this.#generation}`;
  }

  async validate(configPath: string): Promise<ValidateResult> {
    this.validated.push(configPath);
    const config = readConfig(configPath);
    const invalid = (config["fake"] as Behaviour | undefined)?.invalid;
    return invalid ? { ok: false, message: `Error: ${invalid}` } : { ok: true };
  }

  /** `--version` runs so far. */
  versionReads = 0;
  /** `<collector> components`, when a test gives the fake one (off by default, as for a sidecar). */
  components?: (signal: AbortSignal) => Promise<string>;

  async version(): Promise<VersionInfo> {
    this.versionReads++;
    return { name: "otelcol-fake", version: this.version_ };
  }

  /** The controller's probeFor seam. */
  probe: (url: string, timeoutMs: number) => Probe = () => async () => this.#answer();

  #answer(): ProbeResult {
    const run = this.current;
    if (!run) return { healthy: false, error: "health check failed: ECONNREFUSED" };
    if (run.staleChecks > 0) {
      run.staleChecks--;
      return { healthy: true, status: 200, upSince: run.staleUpSince };
    }
    run.checks++;
    const b = run.behaviour;
    if (b.starting_checks !== undefined && run.checks <= b.starting_checks)
      return { healthy: false, error: "health check failed: ECONNREFUSED" };
    if (b.crash_after_checks !== undefined && run.checks > b.crash_after_checks) {
      run.say("panic: boom");
      run.end({ code: 7, signal: null });
      return { healthy: false, error: "health check failed: ECONNREFUSED" };
    }
    const unhealthy =
      b.unhealthy === true || (b.unhealthy_after_checks !== undefined && run.checks > b.unhealthy_after_checks);
    return unhealthy
      ? { healthy: false, status: 503, error: "health check answered HTTP 503", upSince: run.upSince }
      : { healthy: true, status: 200, upSince: run.upSince };
  }
}

function readConfig(path: string): Record<string, unknown> {
  const parsed: unknown = parse(readFileSync(path, "utf8"));
  return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
}

/** What a missing or non-executable collector binary makes the child driver throw. */
export function spawnError(code: "ENOENT" | "EACCES", path = "/opt/otelcol"): ProcessError {
  const words = code === "ENOENT" ? "no such file or directory" : "permission denied";
  return new ProcessError("SPAWN_FAILED", `cannot run ${path}: ${code} (${words})`);
}
