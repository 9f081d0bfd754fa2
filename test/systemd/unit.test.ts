import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
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
    expect(one("ReadWritePaths")?.split(/\s+/)).toEqual(["/var/lib/otelcol/supervisor", "/opt/otelcol"]);
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
    writeFileSync(path, unit.replaceAll("/usr/bin/opamp-supervisor", "/bin/true"));
    const result = spawnSync("systemd-analyze", ["verify", path], { encoding: "utf8" });
    expect(result.stderr.trim()).toBe("");
    expect(result.status).toBe(0);
  });
});
