import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // End-to-end tests start real processes and sockets; a 2-core machine runs them best two at a time.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
