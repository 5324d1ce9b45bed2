import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Files that bring up a whole local emulation (several vhosts, each with its own OVS, sometimes
// OVN): two of them at once on 2 cores starve the userspace datapaths, whose drops then read as
// failed ping pairs. They run after everything else, one at a time.
const EMULATIONS = [
  'test/e2e/**/*.test.ts',
  'test/ovn-local/**/*.test.ts',
  'test/dataplane/**/*.test.ts',
  'test/goalstate/conformance.test.ts',
];

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources of sibling workspaces, not their dist/.
    alias: {
      '@merak/native': src('./native/index.ts'),
      '@merak/proto': src('./proto/index.ts'),
      '@merak/agent': src('./agent/index.ts'),
      '@merak/coordinator': src('./coordinator/index.ts'),
      '@merak/common': src('./common/index.ts'),
      '@merak/lab': src('./lab/index.ts'),
    },
  },
  test: {
    exclude: ['**/node_modules/**', '**/dist/**'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Privileged tests start OVS daemons; two files at a time is what 2 cores carry.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'units',
          include: ['{native,proto,common,agent,coordinator,lab,test}/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/dist/**', ...EMULATIONS],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'emulations',
          include: EMULATIONS,
          exclude: ['**/node_modules/**', '**/dist/**'],
          sequence: { groupOrder: 1 },
          fileParallelism: false,
        },
      },
    ],
  },
});
