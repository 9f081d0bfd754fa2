/** The /health listener survives request targets that Node's parser lets through but URL refuses. */
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startHealthServer } from "../../src/supervisor/health-server.js";
import type { StatusView } from "../../src/supervisor/status-snapshot.js";

const lifetime = new AbortController();
afterEach(() => lifetime.abort());

function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.end(request));
    let out = "";
    socket.on("data", (b: Buffer) => (out += b.toString()));
    socket.on("end", () => resolve(out));
    socket.on("error", reject);
  });
}

describe("the /health listener", () => {
  it("answers 400 to a target URL cannot parse, and keeps serving", async () => {
    const view = { status: "ok", collector: { healthy: true } } as unknown as StatusView;
    const server = await startHealthServer({ host: "127.0.0.1", port: 0 }, () => view, lifetime.signal);
    const { port } = server.address;
    for (const target of ["http://[", "//[x", "http://a:b"]) {
      expect(await raw(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).toMatch(
        /^HTTP\/1\.1 400 /,
      );
    }
    const ok = await fetch(`http://127.0.0.1:${port}/health`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: "ok" });
  });
});
