import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { expandString } from "../../src/config/expand.js";
import { resolveSupervisorConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";
import { configError, resolve } from "./helpers.js";

describe("expandString", () => {
  const env = { HOST: "127.0.0.1", EMPTY: "", PORT: "4320" };

  it("expands ${VAR} and ${env:VAR}", () => {
    expect(expandString("ws://${HOST}:${env:PORT}/v1", env)).toEqual({ ok: true, value: "ws://127.0.0.1:4320/v1" });
  });

  it("treats $$ as a literal $ and leaves other $ alone", () => {
    expect(expandString("a$$b $$${HOST} $REMOTE_CONFIG $ end$", env)).toEqual({
      ok: true,
      value: "a$b $127.0.0.1 $REMOTE_CONFIG $ end$",
    });
    expect(expandString("$${HOST}", env)).toEqual({ ok: true, value: "${HOST}" });
  });

  it("accepts a set but empty variable, and defaults with :-", () => {
    expect(expandString("[${EMPTY}]", env)).toEqual({ ok: true, value: "[]" });
    expect(expandString("${env:MISSING:-fallback}/${MISSING:-}", env)).toEqual({ ok: true, value: "fallback/" });
    expect(expandString("${HOST:-x}", env)).toEqual({ ok: true, value: "127.0.0.1" });
  });

  it("rejects unset variables, bad references, other providers and unterminated references", () => {
    expect(expandString("${MISSING}", env)).toEqual({
      ok: false,
      error:
        'environment variable MISSING is not set (referenced as "${MISSING}"; use "${env:MISSING:-default}" for a default)',
    });
    expect(expandString("${file:/etc/passwd}", env)).toEqual({
      ok: false,
      error: 'unsupported reference "${file:/etc/passwd}": files cannot be read here',
    });
    expect(expandString("${http://x}", env)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/only the env and file providers/),
    });
    expect(expandString("${}", env)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^invalid reference "\$\{\}"/),
    });
    expect(expandString("${1X}", env)).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid reference/) });
    expect(expandString("${HOST", env)).toMatchObject({ ok: false, error: expect.stringMatching(/^unterminated/) });
  });

  it("does not read inherited properties of the env object", () => {
    expect(expandString("${constructor}", {})).toMatchObject({ ok: false });
  });
});

describe("env expansion in supervisor.yaml", () => {
  it("expands both syntaxes in string values, in lists and maps", () => {
    const config = resolve(
      `
server:
  endpoint: ws://\${HOST}:\${env:PORT}/v1/opamp
  headers:
    Authorization: "Bearer \${env:TOKEN}"
agent:
  executable: \${BIN}
  args: ["--x=\${HOST}", '\${PORT}']
  env:
    PORT: \${PORT}
`,
      { HOST: "h", PORT: "4320", TOKEN: "t0k", BIN: "/usr/bin/otelcol" },
    );
    expect(config.server.endpoint).toBe("ws://h:4320/v1/opamp");
    expect(config.server.headers).toEqual({ Authorization: "Bearer t0k" });
    expect(config.agent.executable).toBe("/usr/bin/otelcol");
    expect(config.agent.args).toEqual(["--x=h", "4320"]);
    // A plain whole reference reads as a number, but a string key still gets the text.
    expect(config.agent.env).toEqual({ PORT: "4320" });
  });

  it("gives a plain whole reference the type its value spells", () => {
    const config = resolve(
      `
server: {endpoint: "ws://h"}
agent:
  executable: /x
  validate_config: \${VALIDATE}
  health:
    window: \${WINDOW}
    interval: \${INTERVAL}
`,
      { VALIDATE: "false", WINDOW: "7", INTERVAL: "250ms" },
    );
    expect(config.agent.validateConfig).toBe(false);
    expect(config.agent.health.window).toBe(7);
    expect(config.agent.health.intervalMs).toBe(250);
  });

  it("keeps quoted references as strings", () => {
    const err = configError(
      `server: {endpoint: "ws://h"}\nagent:\n  executable: /x\n  validate_config: "\${VALIDATE}"\n`,
      { VALIDATE: "false" },
    );
    expect(err.problems).toEqual(['agent.validate_config: expected true or false, got string "false"']);
  });

  it("reports every unset variable with its key path, and nothing else for those keys", () => {
    const err = configError(
      `
server:
  endpoint: \${env:OPAMP_ENDPOINT}
  headers:
    X-Token: \${TOKEN}
agent:
  executable: /x
  args: [a, "\${ARG}"]
  health:
    window: \${WINDOW}
`,
      {},
    );
    expect(err.message.startsWith("/etc/otelcol/supervisor.yaml: ")).toBe(true);
    expect(err.problems).toEqual([
      expect.stringMatching(/^server\.endpoint: environment variable OPAMP_ENDPOINT is not set/),
      expect.stringMatching(/^server\.headers\.X-Token: environment variable TOKEN is not set/),
      expect.stringMatching(/^agent\.args\[1\]: environment variable ARG is not set/),
      expect.stringMatching(/^agent\.health\.window: environment variable WINDOW is not set/),
    ]);
  });

  it("hints at quoting when an unquoted reference breaks flow syntax", () => {
    const err = configError("server: {endpoint: ${EP}}\nagent: {executable: /x}\n", { EP: "ws://h" });
    expect(err.problems[0]).toMatch(/^invalid YAML: /);
    expect(err.problems.at(-1)).toMatch(/^hint: inside \[ \] or \{ \} an unquoted \$\{VAR\} is a syntax error/);
    expect(resolve('server: {endpoint: "${EP}"}\nagent: {executable: /x}\n', { EP: "ws://h" }).server.endpoint).toBe(
      "ws://h",
    );
  });

  it("does not expand keys or comments", () => {
    const err = configError(`# \${NOPE}\n\${KEY}: 1\nserver: {endpoint: "ws://h"}\nagent: {executable: /x}\n`, {});
    expect(err.problems).toEqual([expect.stringMatching(/^\["\$\{KEY\}"\]: unknown key/)]);
  });
});

describe("${file:path} in supervisor.yaml, as confmap's file provider reads it", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "expand-file-"));
  writeFileSync(path.join(dir, "token"), "s3cret-token\n");
  writeFileSync(path.join(dir, "headers.yaml"), "Authorization: Bearer abc\nX-Tenant: t1\n");
  writeFileSync(path.join(dir, "window"), "7\n");
  writeFileSync(path.join(dir, "args.yaml"), "- --feature-gates\n- x\n");
  const at = (text: string) => resolveSupervisorConfig(text, path.join(dir, "supervisor.yaml"), {});
  const yaml = (server: string, agent = "") =>
    `server:\n  endpoint: ws://127.0.0.1:4320/v1/opamp\n${server}agent:\n  executable: /usr/bin/otelcol\n${agent}`;

  it("puts a file's one value inside a string, without its trailing newline (relative to supervisor.yaml)", () => {
    const config = at(yaml('  headers:\n    Authorization: "Bearer ${file:token}"\n'));
    expect(config.server.headers).toEqual({ Authorization: "Bearer s3cret-token" });
  });

  it("lets a whole value take the file's map, list or typed scalar", () => {
    const config = at(
      yaml(
        `  headers: \${file:${path.join(dir, "headers.yaml")}}\n`,
        "  args: ${file:args.yaml}\n  health:\n    window: ${file:window}\n    passes_required: 2\n",
      ),
    );
    expect(config.server.headers).toEqual({ Authorization: "Bearer abc", "X-Tenant": "t1" });
    expect(config.agent.args).toEqual(["--feature-gates", "x"]);
    expect(config.agent.health.window).toBe(7);
  });

  it("names the key and the file it cannot read, and refuses a map inside a longer string", () => {
    const err = configErrorAt(() =>
      at(yaml('  headers:\n    A: "x ${file:missing}"\n    B: "x ${file:headers.yaml}"\n')),
    );
    expect(err.problems).toEqual([
      `server.headers.A: cannot read ${path.join(dir, "missing")} (referenced as "\${file:missing}"): ENOENT`,
      "server.headers.B: ${file:headers.yaml} holds a map or a list; only a whole value can take it",
    ]);
  });
});

function configErrorAt(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}
