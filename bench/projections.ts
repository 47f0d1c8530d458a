// Projection engine benchmarks.
//  lag:      commit → read model visible (checkpoint committed), p50/p99, at a fixed
//            offered load of createOrder commands, for each projection.
//  catch-up: events/s when a projection replays a backlog from position zero.
//  notify:   write throughput with and without NOTIFY in each command transaction.
import { CHANNELS, type PositionMessage } from '../src/bus/bus.ts';
import { comparePositions, decodePosition } from '../src/outbox/position.ts';
import { PROJECTION_NAMES } from '../src/projections/projection.ts';
import { createEngine } from '../src/runtime.ts';
import { createOrder } from '../src/write/order/handle.ts';
import { adminContext, givenCatalogue, runWorkload } from '../test/support/workload.ts';
import { type Benchmark, type BenchServer, benchApp, closeApp, freshDatabase, summarize } from './support.ts';
import { quickMaxWriteRate } from './write.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const lagBenchmark: Benchmark = {
  name: 'lag',
  description:
    'commit → read-model-visible lag per projection at 50%, 70% and 90% of the maximum write rate (createOrder with 3 items, open loop)',
  async run(ctx) {
    let max = ctx.shared.maxWriteRate;
    const measuredHere = max === undefined;
    // Run alone: a quick maximum first (the write benchmark's method at 16 clients).
    if (max === undefined) max = await quickMaxWriteRate(ctx.server, ctx.smoke ? 0.5 : 4, ctx.smoke);
    const seconds = ctx.smoke ? 2 : 15;
    // The row is the 70% run; 50% and 90% show how lag grows with load.
    const shares = ctx.smoke ? [0.7] : [0.5, 0.7, 0.9];
    const byShare: Record<string, { rate: number; lagMs: Record<string, ReturnType<typeof summarize>> }> = {};
    for (const share of shares) {
      const rate = Math.max(1, Math.round(max * share));
      byShare[`${Math.round(share * 100)}%`] = { rate, lagMs: (await lagAt(ctx.server, rate, seconds)).lagMs };
    }
    const rate = byShare['70%']!.rate;
    const figures = {
      offeredLoad: `${rate} createOrder/s (3 items) for ${seconds} s, open loop, in process (command handlers), 1 engine with all four projections; also at 50% and 90% of the maximum`,
      lagMs: byShare['70%']!.lagMs,
    };
    const entries = Object.entries(figures.lagMs);
    const worstP50 = Math.max(...entries.map(([, l]) => l.p50));
    const worstP99 = Math.max(...entries.map(([, l]) => l.p99));
    ctx.shared.lagP99Ms = worstP99;
    const perProjection = Object.fromEntries(
      entries.map(([name, l]) => [name, { ...l, p50Met: l.p50 <= 10, p99Met: l.p99 <= 50 }]),
    );
    const others = Object.entries(byShare)
      .filter(([share]) => share !== '70%')
      .map(([share, b]) => {
        const ls = Object.values(b.lagMs);
        return `${share} (${b.rate}/s): worst p50 ${Math.max(...ls.map((l) => l.p50))} ms, p99 ${Math.max(...ls.map((l) => l.p99))} ms`;
      });
    return {
      maxWriteRate: max,
      maxWriteRateFrom: measuredHere ? 'quick measurement (16 clients)' : 'write benchmark, same run',
      ...figures,
      lagMs: perProjection,
      byShareOfMaxRate: byShare,
      summary: [
        {
          row: 'lag',
          figure: `at 70% worst projection p50 ${worstP50} ms, p99 ${worstP99} ms (${entries.map(([n, l]) => `${n} ${l.p50}/${l.p99}`).join(', ')})${others.length ? `; ${others.join('; ')}` : ''}`,
          baseline: null,
          ratio: null,
          goal: 'p50 ≤ 10 ms, p99 ≤ 50 ms',
          met: worstP50 <= 10 && worstP99 <= 50,
          load: figures.offeredLoad,
        },
      ],
    };
  },
};

async function lagAt(server: BenchServer, rate: number, seconds: number) {
  {
    const app = benchApp(await freshDatabase(server));
    const catalogue = await givenCatalogue(app, 12, 20);
    app.engine = createEngine(app, new URL(app.config.databaseUrl!).toString());
    await app.engine.start();
    const waiting = new Map<
      string,
      { position: ReturnType<typeof decodePosition>; committedAt: number; pending: Set<string> }
    >();
    const lags = new Map<string, number[]>(PROJECTION_NAMES.map((n) => [n, []]));
    await app.bus.subscribe(CHANNELS.positions, (message) => {
      const m = message as PositionMessage;
      const at = performance.now();
      const position = decodePosition(m.position);
      for (const [key, w] of waiting) {
        if (w.pending.has(m.projection) && comparePositions(position, w.position) >= 0) {
          lags.get(m.projection)!.push(at - w.committedAt);
          w.pending.delete(m.projection);
          if (!w.pending.size) waiting.delete(key);
        }
      }
    });
    const ctx = adminContext(app);
    const started = performance.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < rate * seconds; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      inflight.push(
        createOrder(ctx, {
          customerId: catalogue.customerIds[i % catalogue.customerIds.length]!,
          items: [0, 1, 2].map((k) => ({
            productId: catalogue.productIds[(i + k * 5) % catalogue.productIds.length]!,
            quantity: 1 + ((i + k) % 3),
          })),
        }).then((r) => {
          waiting.set(r.position, {
            position: decodePosition(r.position),
            committedAt: performance.now(),
            pending: new Set(PROJECTION_NAMES),
          });
        }),
      );
    }
    await Promise.all(inflight);
    for (let i = 0; i < 100 && waiting.size; i++) await sleep(50);
    await closeApp(app);
    return {
      offeredLoad: `${rate} createOrder/s (3 items) for ${seconds} s, open loop, in process (command handlers), 1 engine with all four projections`,
      lagMs: Object.fromEntries([...lags].map(([name, samples]) => [name, summarize(samples)])),
    };
  }
}

export const catchUpBenchmark: Benchmark = {
  name: 'catch-up',
  description: 'replay speed (events/s) of each projection over a backlog, from position zero',
  async run({ server, smoke }) {
    const app = benchApp(await freshDatabase(server), {}, 30);
    const catalogue = await givenCatalogue(app, 20, 50);
    const writeStart = performance.now();
    const written = await runWorkload(app, catalogue, { writers: 8, commandsPerWriter: smoke ? 25 : 1000 });
    const writeSeconds = (performance.now() - writeStart) / 1000;
    const events = Number((await app.pool.query('SELECT count(*) FROM outbox')).rows[0].count);
    const perProjection: Record<string, { seconds: number; eventsPerSecond: number }> = {};
    for (const name of PROJECTION_NAMES) {
      const { ALL_PROJECTIONS } = await import('../src/readModels/registry.ts');
      const projection = ALL_PROJECTIONS.find((p) => p.name === name)!;
      app.engine = createEngine(app, app.config.databaseUrl!, { projections: [projection] });
      const t0 = performance.now();
      await app.engine.start();
      for (;;) {
        const { rows } = await app.pool.query(
          'SELECT events_applied::int AS n FROM projection_checkpoints WHERE name = $1',
          [name],
        );
        if ((rows[0]?.n ?? 0) >= events) break;
        await sleep(5);
      }
      const seconds = (performance.now() - t0) / 1000;
      await app.engine.stop();
      app.engine = undefined;
      perProjection[name] = { seconds: Math.round(seconds * 100) / 100, eventsPerSecond: Math.round(events / seconds) };
    }
    await closeApp(app);
    return {
      events,
      sustainedCommandsPerSecond: Math.round((written.acknowledged + written.rejected) / writeSeconds),
      perProjection,
    };
  },
};

export const notifyBenchmark: Benchmark = {
  name: 'notify',
  description:
    'createOrder throughput (8 concurrent writers, in process): NOTIFY in each command transaction vs one coalesced NOTIFY after commits vs none',
  async run({ server, smoke }) {
    const result: Record<string, number> = {};
    const modes = ['transaction', 'after-commit', 'off'];
    // Twice each, interleaved, best of two (a full run); once each in a smoke run.
    for (const notify of smoke ? modes : [...modes, ...modes]) {
      const app = benchApp(await freshDatabase(server), { OUTBOX_NOTIFY: notify }, 16);
      const catalogue = await givenCatalogue(app, 10, 10);
      const ctx = adminContext(app);
      const seconds = smoke ? 1 : 5;
      let done = 0;
      const end = performance.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          while (performance.now() < end) {
            await createOrder(ctx, {
              customerId: catalogue.customerIds[(done + w) % catalogue.customerIds.length]!,
              items: [{ productId: catalogue.productIds[w % catalogue.productIds.length]!, quantity: 1 }],
            });
            done += 1;
          }
        }),
      );
      result[notify] = Math.max(result[notify] ?? 0, Math.round(done / seconds));
      await closeApp(app);
    }
    const ratio = (mode: string) => Math.round(((result[mode] ?? 0) / (result.off ?? 1)) * 100) / 100;
    return {
      commandsPerSecond: result,
      notifyInTransactionVsNone: ratio('transaction'),
      notifyAfterCommitVsNone: ratio('after-commit'),
    };
  },
};
