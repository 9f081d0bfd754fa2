/** Reading what the agent sent, as a server would: helpers over the wire messages. */
import type { AgentDescription } from "../../src/gen/opamp_pb.js";

/** One string attribute of an AgentDescription (identifying first). */
export function attribute(description: AgentDescription, key: string): string | undefined {
  const all = [...description.identifyingAttributes, ...description.nonIdentifyingAttributes];
  const value = all.find((kv) => kv.key === key)?.value?.value;
  return value?.case === "stringValue" ? value.value : undefined;
}
