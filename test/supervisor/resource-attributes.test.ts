import { describe, expect, it } from "vitest";
import { buildDescription } from "../../src/supervisor/description.js";
import { resourceAttributesOf } from "../../src/supervisor/resource-attributes.js";

describe("resourceAttributesOf", () => {
  it("reads the map form, leaving out removals (null) and non-scalars", () => {
    const yaml =
      "service:\n  telemetry:\n    resource:\n      deployment.environment: prod\n      k8s.node.count: 3\n      removed: null\n      nested: {a: 1}\n";
    expect(resourceAttributesOf(yaml)).toEqual({ "deployment.environment": "prod", "k8s.node.count": 3 });
  });

  it("reads the declarative attributes list", () => {
    const yaml =
      "service:\n  telemetry:\n    resource:\n      attributes:\n        - {name: deployment.environment, value: staging}\n        - {name: broken}\n";
    expect(resourceAttributesOf(yaml)).toEqual({ "deployment.environment": "staging" });
  });

  it("has none without a resource section or for text that is not YAML", () => {
    expect(resourceAttributesOf("receivers: {}\n")).toEqual({});
    expect(resourceAttributesOf("a: [unclosed\n")).toEqual({});
  });
});

describe("buildDescription with resource attributes", () => {
  it("takes service.name and service.version as identifying and never the instance id", () => {
    const d = buildDescription({
      serviceName: "otelcol-contrib",
      serviceVersion: "0.120.0",
      instanceUid: "0190f3a2-7b1c-7d4e-8f00-123456789abc",
      identifying: {},
      nonIdentifying: {},
      resourceAttributes: {
        "service.name": "edge-gateway",
        "service.version": "2.1",
        "service.instance.id": "not-ours",
        "deployment.environment": "prod",
      },
      host: { "host.arch": "amd64", "host.name": "h", "os.type": "linux", "os.description": "d", "os.version": "v" },
    });
    expect(d.identifying).toEqual({
      "service.name": "edge-gateway",
      "service.version": "2.1",
      "service.instance.id": "0190f3a2-7b1c-7d4e-8f00-123456789abc",
    });
    expect(d.nonIdentifying["deployment.environment"]).toBe("prod");
    expect(d.nonIdentifying).not.toHaveProperty("service.instance.id");
  });
});
