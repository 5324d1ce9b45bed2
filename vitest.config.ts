import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources of sibling workspaces, not their dist/.
    alias: {
      '@merak/native': src('./native/index.ts'),
      '@merak/proto': src('./proto/index.ts'),
      '@merak/agent': src('./agent/index.ts'),
      '@merak/coordinator': src('./coordinator/index.ts'),
    },
  },
  test: {
    include: ['{native,proto,agent,coordinator,test}/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Privileged tests start OVS daemons; two files at a time is what 2 cores carry.
    maxWorkers: 2,
  },
});
