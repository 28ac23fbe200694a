import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration tests share the kernel (BPF objects) and loopback ports: one file at a time.
    fileParallelism: false,
    reporters: ['default'],
  },
});
