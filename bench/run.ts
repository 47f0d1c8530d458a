// npm run bench [-- <name> ...] [--smoke]
// Runs the benchmarks against an embedded PostgreSQL (or DATABASE_URL), prints a summary
// table (figure, baseline in the same run, ratio, goal, met) and writes bench/results.json.
// --smoke runs every benchmark at a tiny size in seconds (CI) and writes nothing.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fanOutBenchmark, fanOutWsBenchmark, filteredBenchmark, isolationBenchmark } from './live.ts';
import { catchUpBenchmark, lagBenchmark, notifyBenchmark } from './projections.ts';
import { n1Benchmark, readBenchmark, readYourWritesBenchmark } from './reads.ts';
import { relayBenchmark } from './relay.ts';
import { replayBenchmark } from './replay.ts';
import {
  type Benchmark,
  benchChildren,
  machine,
  type SharedFigures,
  type SummaryRow,
  startBenchServer,
} from './support.ts';
import { writeBenchmark } from './write.ts';

// In this order: lag builds on write's maximum, read-your-writes on lag's p99.
const ALL: Benchmark[] = [
  writeBenchmark,
  lagBenchmark,
  replayBenchmark,
  readBenchmark,
  readYourWritesBenchmark,
  fanOutBenchmark,
  fanOutWsBenchmark,
  filteredBenchmark,
  isolationBenchmark,
  n1Benchmark,
  notifyBenchmark,
  catchUpBenchmark,
  relayBenchmark,
];
/** Run only when named: their figures are covered by the rows above. */
const ON_REQUEST = new Set(['catch-up']);

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !ALL.some((b) => b.name === n));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${ALL.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
const selected = names.length ? ALL.filter((b) => names.includes(b.name)) : ALL.filter((b) => !ON_REQUEST.has(b.name));
const server = await startBenchServer();
const results: Record<string, Record<string, unknown>> = {};
const shared: SharedFigures = {};
const started = performance.now();
const file = join(import.meta.dirname, 'results.json');
const previous = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as {
  results?: Record<string, Record<string, unknown>>;
};
// A stray socket error in a load generator must not lose the rows measured so far: it
// is reported (and fails the run), and the benchmarks go on.
const uncaught: string[] = [];
process.on('uncaughtException', (error) => {
  uncaught.push(String(error.stack ?? error));
  console.error('uncaught error during a benchmark:', error);
});

/** Writes what is measured so far: a run of some benchmarks updates their rows and keeps the others'. */
async function save(final: boolean): Promise<SummaryRow[]> {
  const merged = { ...previous.results, ...results };
  // A smoke run's rows are its own; a full run's table covers every row in the file.
  const summary = summaryRows(smoke ? results : merged);
  const report = {
    date: new Date().toISOString(),
    smoke,
    complete: final,
    totalSeconds: Math.round((performance.now() - started) / 1000),
    machine: machine(server),
    summary,
    results: merged,
    ...(uncaught.length ? { uncaughtErrors: uncaught } : {}),
  };
  if (!smoke) await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return summary;
}

const failed: string[] = [];
try {
  for (const bench of selected) {
    const t0 = performance.now();
    console.log(`\n# ${bench.name}: ${bench.description}`);
    try {
      const figures = await bench.run({ server, smoke, shared });
      const seconds = Math.round((performance.now() - t0) / 100) / 10;
      results[bench.name] = { description: bench.description, ...figures, seconds };
      console.log(JSON.stringify(figures, null, 2));
      console.log(`(${bench.name}: ${seconds} s)`);
    } catch (error) {
      failed.push(bench.name);
      results[bench.name] = { description: bench.description, error: String((error as Error).stack ?? error) };
      console.error(`${bench.name} failed:`, error);
    }
    await save(false);
  }
} finally {
  await server.stop();
}
const totalSeconds = Math.round((performance.now() - started) / 1000);
printTable(await save(true));
console.log(
  `\n${selected.length} benchmark(s) in ${totalSeconds} s; ${smoke ? 'smoke run: results.json not written' : 'wrote bench/results.json'}`,
);
if (failed.length || uncaught.length) {
  console.error(`failed: ${failed.join(', ') || '–'}; uncaught errors: ${uncaught.length}`);
  process.exitCode = 1;
}
// A benchmark that failed half-way may leave its child processes (service, load
// generators) behind, and their IPC channels would keep this process alive.
for (const child of benchChildren) child.kill('SIGKILL');
process.exit();

/** Every benchmark's own rows, plus the catch-up row derived from the replay figures. */
function summaryRows(all: Record<string, Record<string, unknown>>): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const bench of ALL) {
    const own = all[bench.name]?.summary as SummaryRow[] | undefined;
    if (own) rows.push(...own);
    if (bench.name === 'replay' && !own && all.replay) {
      const row = catchUpRow(all.replay, all.write);
      if (row) rows.push(row);
    }
  }
  return rows;
}

function catchUpRow(replay: Record<string, unknown>, write: Record<string, unknown> | undefined): SummaryRow | null {
  const per = replay.perProjection as Record<string, { eventsPerSecond: number }> | undefined;
  if (!per) return null;
  const rates = Object.entries(per).map(([name, r]) => [name, r.eventsPerSecond] as const);
  const slowest = Math.min(...rates.map(([, r]) => r));
  const commandRate =
    (write?.maxCommandsPerSecond as number | undefined) ?? (replay.sustainedCommandsPerSecond as number);
  const ratio = Math.round((slowest / commandRate) * 10) / 10;
  const rebuild = replay.rebuild as
    | {
        perProjection: Record<string, { eventsPerSecond: number }>;
        slowestEventsPerSecond: number;
        tablesDifferingFromTheLiveReplay: string[];
      }
    | undefined;
  const rebuildText = rebuild
    ? `; as rebuilds (shadow, indexes after the load) slowest ${rebuild.slowestEventsPerSecond} events/s (${Object.entries(
        rebuild.perProjection,
      )
        .map(([n, r]) => `${n} ${r.eventsPerSecond}`)
        .join(
          ', ',
        )}), ${rebuild.tablesDifferingFromTheLiveReplay.length ? `tables differing from the live replay: ${rebuild.tablesDifferingFromTheLiveReplay.join(', ')}` : 'every table identical to the live replay'}`
    : '';
  return {
    row: 'catch-up',
    figure: `slowest projection ${slowest} events/s (${rates.map(([n, r]) => `${n} ${r}`).join(', ')}); ${replay.events} events${rebuildText}`,
    baseline: `max sustained command rate ${commandRate}/s${write?.maxCommandsPerSecond ? ' (write)' : ' (replay run)'}`,
    ratio,
    goal: '≥ 10× and ≥ 20,000 events/s',
    met: ratio >= 10 && slowest >= 20_000,
    load: String(replay.description ?? 'replay from position zero'),
  };
}

function printTable(rows: SummaryRow[]): void {
  const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
  const cols = [
    ['row', 16],
    ['figure', 70],
    ['baseline', 40],
    ['ratio', 6],
    ['goal', 26],
    ['met', 4],
  ] as const;
  const line = (cells: string[]) => cells.map((c, i) => cut(c, cols[i]![1]).padEnd(cols[i]![1])).join(' | ');
  console.log(`\n${line(cols.map(([c]) => c))}`);
  console.log(cols.map(([, w]) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) {
    console.log(
      line([
        r.row,
        r.figure,
        r.baseline ?? '–',
        r.ratio === null ? '–' : String(r.ratio),
        r.goal,
        r.met ? 'yes' : 'NO',
      ]),
    );
  }
}
