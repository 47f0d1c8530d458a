// One randomized spec on its own, at CI size or as a soak:
//   npm run fuzz  [-- --long] [-- --runs N] [-- --seed S]   the GraphQL fuzzer (test/security/fuzz.test.ts);
//                                                           --long sends 200,000 requests
//   npm run model [-- --long] [-- --runs N] [-- --seed S] [-- --commands N]
//                                                           the consistency model test (test/consistency/model.test.ts);
//                                                           --long: 20 runs of up to 150 steps
import { spawnSync } from 'node:child_process';

const SPECS = {
  fuzz: { file: 'test/security/fuzz.test.ts', prefix: 'FUZZ', long: { FUZZ_LONG: '1' } },
  model: { file: 'test/consistency/model.test.ts', prefix: 'MODEL', long: { MODEL_RUNS: '20', MODEL_COMMANDS: '150' } },
};

const [name, ...args] = process.argv.slice(2);
const spec = SPECS[name];
if (!spec) {
  console.error(`usage: node scripts/soak.mjs ${Object.keys(SPECS).join('|')} [--long] [--runs N] [--seed S]`);
  process.exit(2);
}
const env = { ...process.env, ...(args.includes('--long') ? spec.long : {}) };
for (const option of ['runs', 'seed', 'commands']) {
  const i = args.indexOf(`--${option}`);
  if (i >= 0) env[`${spec.prefix}_${option.toUpperCase()}`] = args[i + 1];
}
const result = spawnSync('npx', ['vitest', 'run', spec.file], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
