#!/usr/bin/env node
// Placeholder until the supervisor daemon lands: say so clearly instead of pretending.
process.stderr.write("opamp-supervisor: the supervisor daemon is not built yet; only the OpAMP client exists.\n");
process.exitCode = 2;
