// npm run fuzz [-- --long] [-- --runs N] [-- --seed S]: the GraphQL fuzzer
// (test/security/fuzz.test.ts) on its own. --long soaks with 200,000 requests.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const env = { ...process.env };
if (args.includes('--long')) env.FUZZ_LONG = '1';
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
if (option('--runs')) env.FUZZ_RUNS = option('--runs');
if (option('--seed')) env.FUZZ_SEED = option('--seed');
const result = spawnSync('npx', ['vitest', 'run', 'test/security/fuzz.test.ts'], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
