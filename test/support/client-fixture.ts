/** Builds OpAMP clients wired to a test server, a fake clock and a recording logger. */
import { AgentCapabilities } from "../../src/gen/opamp_pb.js";
import { OpampClient } from "../../src/opamp/client.js";
import type { ConnectionState, OpampClientOptions } from "../../src/opamp/client.js";
import type { TransportError } from "../../src/opamp/transport.js";
import { createDefaultDeps, silentLogger } from "../../src/deps.js";
import { parseUuid } from "../../src/opamp/uuid.js";
import { FakeClock } from "./fake-clock.js";
import type { OpampTestServer } from "./opamp-test-server.js";

export const TEST_UID = parseUuid("0190f3a2-7b1c-7d4e-8f00-123456789abc") as Uint8Array;

export const BASIC_CAPABILITIES = BigInt(
  AgentCapabilities.AgentCapabilities_ReportsStatus |
    AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig |
    AgentCapabilities.AgentCapabilities_ReportsEffectiveConfig |
    AgentCapabilities.AgentCapabilities_ReportsHealth |
    AgentCapabilities.AgentCapabilities_ReportsRemoteConfig |
    AgentCapabilities.AgentCapabilities_ReportsHeartbeat,
);

export interface ClientHarness {
  client: OpampClient;
  clock: FakeClock;
  states: ConnectionState[];
  errors: TransportError[];
}

export function makeClient(
  server: OpampTestServer,
  transport: "ws" | "http",
  overrides: Partial<OpampClientOptions> & { random?: () => number } = {},
): ClientHarness {
  const clock = new FakeClock();
  const { random, ...rest } = overrides;
  const client = new OpampClient({
    target: { endpoint: transport === "ws" ? server.wsUrl : server.httpUrl },
    instanceUid: TEST_UID,
    capabilities: BASIC_CAPABILITIES,
    deps: createDefaultDeps({ clock, random: random ?? (() => 0.5), logger: silentLogger }),
    ...rest,
  });
  const states: ConnectionState[] = [];
  const errors: TransportError[] = [];
  client.on("state", (s) => states.push(s));
  client.on("clientError", (e) => errors.push(e));
  return { client, clock, states, errors };
}

/** Delays of every backoff the client entered, in order. */
export function backoffDelays(states: ConnectionState[]): number[] {
  return states.flatMap((s) => (s.kind === "backoff" ? [s.delayMs] : []));
}
