import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const unit = readFileSync("systemd/opamp-supervisor.service", "utf8");
const settings = new Map<string, string[]>();
for (const line of unit.split("\n")) {
  const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
  if (m) settings.set(m[1] as string, [...(settings.get(m[1] as string) ?? []), m[2] as string]);
}
const one = (key: string): string | undefined => settings.get(key)?.at(-1);

describe("systemd unit", () => {
  it("runs as a dedicated user with a hardened sandbox", () => {
    expect(one("User")).toBe("otelcol");
    expect(one("NoNewPrivileges")).toBe("yes");
    expect(one("ProtectSystem")).toBe("strict");
    expect(one("ProtectHome")).toBe("yes");
    expect(one("PrivateTmp")).toBe("yes");
    expect(one("CapabilityBoundingSet")).toBe("");
  });

  it("may write only the state and install directories", () => {
    // "-": a host without /opt/otelcol still starts (systemd refuses a missing path otherwise).
    expect(one("ReadWritePaths")?.split(/\s+/)).toEqual(["/var/lib/otelcol/supervisor", "-/opt/otelcol"]);
  });

  it("gives Node's compile cache a directory of the unit's own, which the sandbox lets it write", () => {
    expect(one("CacheDirectory")).toBe("opamp-supervisor");
    expect(one("CacheDirectoryMode")).toBe("0700");
    expect(one("Environment")).toBe("NODE_COMPILE_CACHE=/var/cache/opamp-supervisor/node-compile-cache");
  });

  it("reads optional secrets from /etc/opamp-supervisor/env", () => {
    expect(one("EnvironmentFile")).toBe("-/etc/opamp-supervisor/env");
  });

  it("finds the binary under Debian's npm prefix (/usr/local/bin) and /usr/bin alike: a bare name systemd resolves", () => {
    expect(one("ExecStart")).toBe("opamp-supervisor --config /etc/opamp-supervisor/supervisor.yaml");
    expect(one("ExecStartPre")).toBe("opamp-supervisor validate --config /etc/opamp-supervisor/supervisor.yaml");
  });

  it("restarts on failure but not on a configuration error, and stops the collector with it", () => {
    expect(one("Restart")).toBe("on-failure");
    expect(one("RestartPreventExitStatus")).toBe("2");
    expect(one("KillMode")).toBe("control-group");
    expect(one("ExecStart")).toMatch(/opamp-supervisor --config \S+supervisor\.yaml$/);
  });

  const analyze = spawnSync("systemd-analyze", ["--version"]);
  it.runIf(analyze.status === 0)("passes systemd-analyze verify", () => {
    const dir = mkdtempSync(join(tmpdir(), "unit-"));
    const path = join(dir, "opamp-supervisor.service");
    // verify checks that ExecStart exists: point it at a binary every host has.
    writeFileSync(path, withTrue(unit));
    const result = spawnSync("systemd-analyze", ["verify", path], { encoding: "utf8" });
    expect(result.stderr.trim()).toBe("");
    expect(result.status).toBe(0);
  });

  it.runIf(analyze.status === 0)("loads every documented drop-in without a complaint", () => {
    const dir = mkdtempSync(join(tmpdir(), "unit-"));
    const path = join(dir, "opamp-supervisor.service");
    writeFileSync(path, withTrue(unit));
    mkdirSync(join(dir, "opamp-supervisor.service.d"));
    for (const name of dropIns)
      writeFileSync(join(dir, "opamp-supervisor.service.d", name), readFileSync(join("systemd/drop-ins", name)));
    // A key systemd does not know proves the drop-ins are read at all.
    writeFileSync(join(dir, "opamp-supervisor.service.d", "zz-probe.conf"), "[Service]\nNoSuchKey=1\n");
    const result = spawnSync("systemd-analyze", ["verify", path], {
      encoding: "utf8",
      env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` },
    });
    expect(result.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/zz-probe\.conf:2: Unknown key 'NoSuchKey'/),
    ]);
    expect(result.status).toBe(0);
  });
});

const dropIns = readdirSync("systemd/drop-ins").filter((name) => name.endsWith(".conf"));

describe("systemd drop-ins", () => {
  it("cover reading /var/log and the journal, writing elsewhere and low ports, each documented in the README", () => {
    expect(dropIns.sort()).toEqual(["low-ports.conf", "read-journald.conf", "read-var-log.conf", "write-paths.conf"]);
    const readme = readFileSync("README.md", "utf8");
    for (const name of dropIns) expect(readme).toContain(`systemd/drop-ins/${name}`);
  });

  it("widen only what their comment says", () => {
    expect(readFileSync("systemd/drop-ins/read-var-log.conf", "utf8")).toMatch(/^SupplementaryGroups=adm$/m);
    expect(readFileSync("systemd/drop-ins/read-journald.conf", "utf8")).toMatch(
      /^SupplementaryGroups=systemd-journal$/m,
    );
    expect(readFileSync("systemd/drop-ins/write-paths.conf", "utf8")).toMatch(/^ReadWritePaths=\S+$/m);
  });
});

describe("ExecReload", () => {
  // kill -HUP as ExecReload is right only when SIGHUP does not stop the supervisor.
  it("is present exactly when the built supervisor survives SIGHUP", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unit-hup-"));
    const config = join(dir, "supervisor.yaml");
    const stub = join(process.cwd(), "fixtures/otelcol-stub/otelcol-stub.mjs");
    writeFileSync(
      config,
      `server:\n  endpoint: ws://127.0.0.1:1/v1/opamp\nagent:\n  executable: ${stub}\nstorage:\n  directory: ${join(dir, "state")}\n`,
    );
    const child = spawn(process.execPath, ["dist/cli.js", "--config", config], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<string>((r) => child.once("exit", (code, signal) => r(`exit ${code ?? signal}`)));
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`never started: ${out}`)), 15_000);
      const poll = setInterval(() => {
        if (!out.includes("supervisor started")) return;
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }, 20);
    });
    child.kill("SIGHUP");
    const survived = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), 1_000)),
    ]);
    child.kill("SIGKILL");
    await exited;
    expect(
      one("ExecReload") !== undefined,
      survived
        ? "SIGHUP is handled now: add ExecReload=/bin/kill -HUP $MAINPID"
        : "SIGHUP kills the supervisor: no ExecReload",
    ).toBe(survived);
  });
});

function withTrue(text: string): string {
  // verify checks that ExecStart exists: point it at a binary every host has.
  return text.replace(/^(ExecStart(?:Pre)?=)opamp-supervisor/gm, "$1/bin/true");
}

describe("unit text", () => {
  it("has no leftover absolute path to the binary", () => {
    expect(unit).not.toMatch(/\/usr\/bin\/opamp-supervisor/);
  });
});
