/** Public surface for embedding: the OpAMP client and its types. */
export { OpampClient, serverHas } from "./opamp/client.js";
export type { ConnectionState, OpampClientEvents, OpampClientOptions } from "./opamp/client.js";
export { SupervisorError, ConfigError, ProcessError, ProtocolError, HealthError, UpgradeError } from "./errors.js";
