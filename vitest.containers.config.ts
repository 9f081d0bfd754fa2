import { defineConfig } from "vitest/config";

/**
 * The container suite: deploy/Dockerfile built with podman (stand-in base images, no registry)
 * and the shipped Kubernetes manifests run with `podman kube play` against the opamp-go test
 * server on the host's loopback. The global setup builds the images once; files run one at a
 * time (each plays real pods on a 2-core machine).
 * Both shapes run: supervised.test.ts (the supervised image) and sidecar.test.ts (the sidecar pod).
 */

export default defineConfig({
  test: {
    include: ["test/containers/**/*.test.ts"],
    globalSetup: ["test/containers/global-setup.ts"],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: "forks",
    fileParallelism: false,
  },
});
