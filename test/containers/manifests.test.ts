/**
 * What the shipped manifests promise about privileges and resources, checked on the files
 * themselves (podman does not enforce all of it): every container non-root, no privilege
 * escalation, no capabilities, a read-only root filesystem, resource requests and a memory
 * limit; no host namespaces or host paths; and the sidecar pod's shared process namespace and
 * volume.
 */
import { describe, expect, it } from "vitest";
import { loadManifest } from "./kube.js";

type Obj = Record<string, any>;

function podSpec(file: string): Obj {
  const workload = loadManifest(file).find((d) => ["Deployment", "DaemonSet", "Pod"].includes(d["kind"] as string));
  if (!workload) throw new Error(`${file} has no workload`);
  return workload["kind"] === "Pod" ? workload["spec"] : workload["spec"]["template"]["spec"];
}

const allContainers = (spec: Obj): Obj[] => [...(spec["initContainers"] ?? []), ...spec["containers"]];

describe.each(["deployment.yaml", "daemonset.yaml", "sidecar.yaml"])("manifest %s", (file) => {
  const spec = podSpec(file);

  it("runs every container as uid 10001 without privileges, capabilities or a writable root filesystem", () => {
    expect(spec["securityContext"]).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(spec["automountServiceAccountToken"]).toBe(false);
    for (const c of allContainers(spec)) {
      expect(c["securityContext"], c["name"]).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
      });
    }
  });

  it("uses no host namespaces or host paths", () => {
    for (const key of ["hostNetwork", "hostPID", "hostIPC"]) expect(spec[key], key).toBeUndefined();
    for (const v of spec["volumes"] as Obj[]) expect(v["hostPath"], v["name"]).toBeUndefined();
  });

  it("gives every container resource requests and a memory limit", () => {
    for (const c of allContainers(spec)) {
      expect(c["resources"]?.["requests"]?.["cpu"], c["name"]).toBeDefined();
      expect(c["resources"]?.["requests"]?.["memory"], c["name"]).toBeDefined();
      expect(c["resources"]?.["limits"]?.["memory"], c["name"]).toBeDefined();
    }
  });

  it("probes the collector's health port and mounts the state volume where the image keeps it", () => {
    const probed = (spec["containers"] as Obj[]).filter((c) => c["readinessProbe"]);
    expect(probed.length).toBe(1);
    expect(probed[0]!["startupProbe"]["httpGet"]["port"]).toBe("health");
    const health = (probed[0]!["ports"] as Obj[]).find((p) => p["name"] === "health");
    expect(health?.["containerPort"]).toBe(13133);
    const supervisor = (spec["containers"] as Obj[]).find((c) => c["name"] === "supervisor")!;
    expect(supervisor["volumeMounts"]).toContainEqual({ name: "state", mountPath: "/var/lib/otelcol" });
  });
});

describe("manifest sidecar.yaml", () => {
  const spec = podSpec("sidecar.yaml");

  it("shares the process namespace, and the state volume between the init container, the collector and the supervisor", () => {
    expect(spec["shareProcessNamespace"]).toBe(true);
    expect(spec["restartPolicy"]).toBe("Always");
    const byName = new Map(allContainers(spec).map((c) => [c["name"] as string, c]));
    expect([...byName.keys()].sort()).toEqual(["collector", "init-config", "supervisor"]);
    expect(byName.get("init-config")!["args"][0]).toBe("init-config");
    expect(byName.get("collector")!["volumeMounts"]).toContainEqual({
      name: "state",
      mountPath: "/var/lib/otelcol",
      readOnly: true,
    });
    expect(byName.get("collector")!["args"]).toEqual(["--config=/var/lib/otelcol/supervisor/effective.yaml"]);
    for (const name of ["init-config", "supervisor"]) {
      expect(byName.get(name)!["volumeMounts"], name).toContainEqual({ name: "state", mountPath: "/var/lib/otelcol" });
    }
    expect((spec["volumes"] as Obj[]).find((v) => v["name"] === "state")).toEqual({ name: "state", emptyDir: {} });
  });
});
