/** This supervisor's version, from package.json (one level above src/ and dist/). */
import { readFileSync } from "node:fs";

function read(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return manifest.version ?? "unknown";
  } catch {
    return "unknown"; // bundled without its package.json
  }
}

export const SUPERVISOR_VERSION = read();
