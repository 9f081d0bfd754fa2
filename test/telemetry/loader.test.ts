/** The SDK seam: nothing configured, nothing imported; configured, the SDK module is loaded. */
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { describe, expect, it, vi } from "vitest";
import { noTelemetry, startTelemetry, type TelemetrySession } from "../../src/telemetry/loader.js";
import { resolve, MINIMAL } from "../config/helpers.js";

const options = { version: "0.0.0-test", readFile: () => Promise.reject(new Error("no files here")) };

describe("startTelemetry", () => {
  it("never imports the SDK when telemetry exports nothing (levels and a resource alone export nothing)", async () => {
    const load = vi.fn();
    const config = resolve(
      `${MINIMAL}telemetry:\n  logs: {level: debug}\n  metrics: {level: detailed}\n  resource: {a: b}\n`,
    );
    expect(await startTelemetry(config.telemetry, options, load)).toBe(noTelemetry);
    expect(load).not.toHaveBeenCalled();
  });

  it("does not import it for readers that level none turned off", async () => {
    const load = vi.fn();
    const config = resolve(
      `${MINIMAL}telemetry:\n  metrics:\n    level: none\n    readers: [{pull: {exporter: {prometheus: {port: 0}}}}]\n`,
    );
    expect(await startTelemetry(config.telemetry, options, load)).toBe(noTelemetry);
    expect(load).not.toHaveBeenCalled();
  });

  it("imports the SDK module once something is exported, and starts it", async () => {
    const session: TelemetrySession = { ...noTelemetry };
    const startSdk = vi.fn(() => Promise.resolve(session));
    const config = resolve(
      `${MINIMAL}telemetry:\n  metrics:\n    readers: [{pull: {exporter: {prometheus: {port: 0}}}}]\n`,
    );
    expect(await startTelemetry(config.telemetry, options, () => Promise.resolve({ startSdk }))).toBe(session);
    expect(startSdk).toHaveBeenCalledWith(config.telemetry, options);
  });

  it("the real SDK refuses a pull reader's port in use with LISTEN_FAILED", async () => {
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, "127.0.0.1", done));
    const { port } = taken.address() as AddressInfo;
    const config = resolve(
      `${MINIMAL}telemetry:\n  metrics:\n    readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: ${port}}}}}]\n`,
    );
    await expect(startTelemetry(config.telemetry, options)).rejects.toMatchObject({ code: "LISTEN_FAILED" });
    await new Promise((done) => taken.close(done));
  });
});
