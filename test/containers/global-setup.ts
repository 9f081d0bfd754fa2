/**
 * Builds the suite's images once per run (cached stand-ins, then deploy/Dockerfile) and hands
 * their tags to the test files. When podman or the interop peers are missing, the reason is
 * handed over instead and the files fail with it (the CI script decides beforehand whether
 * to run this suite at all).
 */
import type { TestProject } from "vitest/node";
import { ensureImages } from "./images.js";
import type { TestImages } from "./images.js";
import { containersUnavailable } from "./podman.js";

declare module "vitest" {
  export interface ProvidedContext {
    images: TestImages | { unavailable: string };
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const unavailable = containersUnavailable();
  if (unavailable) {
    project.provide("images", { unavailable });
    return;
  }
  const log = (m: string): void => console.log(`[containers] ${m}`);
  const t0 = performance.now();
  const images = await ensureImages(log);
  log(
    `images ready in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
      `(node stand-in ${images.seconds.node} s, collector stand-in ${images.seconds.collector} s, supervised ${images.seconds.supervised} s; 0 = cached)`,
  );
  project.provide("images", images);
}
