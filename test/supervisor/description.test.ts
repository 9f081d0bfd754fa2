import { describe, expect, it } from "vitest";
import { buildDescription, hostFacts } from "../../src/supervisor/description.js";
import type { HostSource } from "../../src/supervisor/description.js";

const debian: HostSource = {
  arch: "x64",
  platform: "linux",
  release: "6.1.0-18-amd64",
  hostname: "edge-7",
  kernelName: "Linux",
  osRelease: 'NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n',
};

describe("host facts", () => {
  it("names the architecture and OS as the semantic conventions do", () => {
    expect(hostFacts(debian)).toEqual({
      "host.arch": "amd64",
      "host.name": "edge-7",
      "os.type": "linux",
      "os.description": "Debian GNU/Linux 12 (bookworm)",
      "os.version": "6.1.0-18-amd64",
    });
    expect(hostFacts({ ...debian, arch: "arm64" })["host.arch"]).toBe("arm64");
    expect(hostFacts({ ...debian, arch: "arm" })["host.arch"]).toBe("arm32");
    expect(hostFacts({ ...debian, arch: "ia32" })["host.arch"]).toBe("x86");
    expect(hostFacts({ ...debian, arch: "riscv64" })["host.arch"]).toBe("riscv64");
    expect(hostFacts({ ...debian, platform: "win32" })["os.type"]).toBe("windows");
  });

  it("describes the OS by uname when there is no os-release", () => {
    expect(hostFacts({ ...debian, osRelease: undefined })["os.description"]).toBe("Linux 6.1.0-18-amd64");
    expect(hostFacts({ ...debian, osRelease: "ID=alpine\n" })["os.description"]).toBe("Linux 6.1.0-18-amd64");
    expect(hostFacts({ ...debian, osRelease: "PRETTY_NAME=Alpine Linux v3.20\n" })["os.description"]).toBe(
      "Alpine Linux v3.20",
    );
  });
});

describe("buildDescription", () => {
  it("layers host facts, then resource attributes, then the operator's attributes", () => {
    const d = buildDescription({
      serviceName: "otelcol-contrib",
      serviceVersion: "0.120.0",
      instanceUid: "0190f3a2-7b1c-7d4e-8f00-123456789abc",
      identifying: { "service.namespace": "edge" },
      nonIdentifying: { "host.name": "set-by-operator" },
      resourceAttributes: { "host.name": "from-resource", "deployment.environment": "prod", "k8s.pod.count": 3 },
      host: hostFacts(debian),
    });
    expect(d.identifying).toEqual({
      "service.name": "otelcol-contrib",
      "service.version": "0.120.0",
      "service.instance.id": "0190f3a2-7b1c-7d4e-8f00-123456789abc",
      "service.namespace": "edge",
    });
    expect(d.nonIdentifying).toMatchObject({
      "host.arch": "amd64",
      "host.name": "set-by-operator",
      "deployment.environment": "prod",
      "k8s.pod.count": 3,
    });
  });
});
