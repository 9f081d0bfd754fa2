/**
 * Secrets never leave the host: a value of agent.env or server.headers, printed by the
 * collector itself (it expands ${env:...} in its own error text), is masked in what the
 * server receives (FAILED messages, health errors with their log tails) and in the
 * supervisor's log.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RemoteConfigStatuses } from "../../src/gen/opamp_pb.js";
import { MASK } from "../../src/telemetry/mask.js";
import { OpampTestServer } from "../support/opamp-test-server.js";
import { BASE_COLLECTOR, makeWorkspace, startSupervisor } from "./harness.js";
import type { RunningSupervisor, Workspace } from "./harness.js";

const ENV_SECRET = "s3cr3t-env-value-9f2";
const HEADER_SECRET = "hdr-secret-77aa-key";
const SECRETS = [ENV_SECRET, HEADER_SECRET];

let server: OpampTestServer;
const running: RunningSupervisor[] = [];
beforeEach(async () => {
  server = await OpampTestServer.start();
});
afterEach(async () => {
  for (const sup of running.splice(0)) await sup.kill();
  await server.close();
});

async function workspace(collectorYaml?: string): Promise<Workspace> {
  return makeWorkspace({
    endpoint: server.wsUrl,
    agentExtra: `  env:\n    DB_PASSWORD: ${ENV_SECRET}\n`,
    serverExtra: `  headers:\n    X-Api-Key: ${HEADER_SECRET}\n`,
    ...(collectorYaml === undefined ? {} : { collectorYaml }),
  });
}

/** Everything that went out: the server's received bytes, and the supervisor's stdout and stderr. */
function leaks(sup: RunningSupervisor): string[] {
  const found: string[] = [];
  for (const r of server.received) {
    const bytes = Buffer.from(r.bytes);
    for (const s of SECRETS) if (bytes.includes(s)) found.push(`server message ${r.connection}: ${s}`);
  }
  const logs = JSON.stringify(sup.logs) + sup.stderr.join("");
  for (const s of SECRETS) if (logs.includes(s)) found.push(`supervisor log: ${s}`);
  return found;
}

describe("secret masking end to end", () => {
  it("a remote config whose validate error prints an agent.env value and a header value: FAILED and logs are masked", async () => {
    const ws = await workspace();
    const sup = startSupervisor(ws);
    running.push(sup);
    await server.waitFor((r) => r.msg.health?.healthy === true, { timeoutMs: 15_000 });
    const body = 'stub:\n  invalid: "login failed for password ${env:DB_PASSWORD} with key ' + HEADER_SECRET + '"\n';
    const from = server.received.length;
    server.push({
      remoteConfig: {
        configHash: new Uint8Array([0xee, 1]),
        config: { configMap: { "remote.yaml": { body: new TextEncoder().encode(body), contentType: "text/yaml" } } },
      },
    });
    const failed = await server.waitFor(
      (r) => r.msg.remoteConfigStatus?.status === RemoteConfigStatuses.RemoteConfigStatuses_FAILED,
      { from, timeoutMs: 15_000 },
    );
    const message = failed.msg.remoteConfigStatus?.errorMessage ?? "";
    // The collector's own text is there, with both values masked.
    expect(message).toContain(`login failed for password ${MASK} with key ${MASK}`);
    await sup.log((l) => l.msg === "remote config refused");
    expect(leaks(sup)).toEqual([]);
  });

  it("a collector that prints an agent.env value as it dies: the health error and its tail are masked", async () => {
    const ws = await workspace(`${BASE_COLLECTOR}stub:\n  invalid: "cannot open db with \${env:DB_PASSWORD}"\n`);
    const sup = startSupervisor(ws);
    running.push(sup);
    const unhealthy = await server.waitFor((r) => (r.msg.health?.lastError ?? "").includes(MASK), {
      timeoutMs: 15_000,
    });
    expect(unhealthy.msg.health?.healthy).toBe(false);
    expect(unhealthy.msg.health?.lastError).toContain(`cannot open db with ${MASK}`);
    expect(leaks(sup)).toEqual([]);
  });
});
