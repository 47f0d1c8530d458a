// npm run bench [-- <name> ...] [--smoke]
// Runs the benchmarks against an embedded PostgreSQL (or DATABASE_URL), prints a table
// and writes bench/results.json.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { catchUpBenchmark, lagBenchmark, notifyBenchmark } from './projections.ts';
import { fanOutBenchmark, readBenchmark } from './reads.ts';
import { replayBenchmark } from './replay.ts';
import { type Benchmark, machine, startBenchServer } from './support.ts';

const ALL: Benchmark[] = [
  notifyBenchmark,
  lagBenchmark,
  catchUpBenchmark,
  replayBenchmark,
  readBenchmark,
  fanOutBenchmark,
];

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !ALL.some((b) => b.name === n));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${ALL.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
const selected = names.length ? ALL.filter((b) => names.includes(b.name)) : ALL;
const server = await startBenchServer();
const results: Record<string, unknown> = {};
try {
  for (const bench of selected) {
    const t0 = performance.now();
    console.log(`\n# ${bench.name}: ${bench.description}`);
    const figures = await bench.run({ server, smoke });
    results[bench.name] = {
      description: bench.description,
      ...figures,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    };
    console.log(JSON.stringify(figures, null, 2));
  }
} finally {
  await server.stop();
}
// A run of some benchmarks updates their rows and keeps the others'.
const file = join(import.meta.dirname, 'results.json');
const previous = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as { results?: Record<string, unknown> };
const report = {
  date: new Date().toISOString(),
  smoke,
  machine: machine(server),
  results: { ...previous.results, ...results },
};
if (!smoke) await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\n${smoke ? 'smoke run: results.json not written' : 'wrote bench/results.json'}`);
