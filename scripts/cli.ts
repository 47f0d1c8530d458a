// Operator commands.
//   npm run cli -- projections status
//   npm run cli -- projections verify <name>    exit 1 when the read model differs
//   npm run cli -- projections rebuild <name>   start a rebuild, follow it until swapped in
//   npm run cli -- relay status                 the outbox relay's position, lag, owner, last error
//   npm run cli -- relay replay --from <position>
//                                               re-publish from that position token (or 0: the start)
//                                               up to the relay's checkpoint, same message ids (NATS_URL)
// Uses DATABASE_URL, else the embedded PostgreSQL of `npm start` (started if not running).
// First: refuses an unsupported Node.js before the rest of the graph is evaluated.
import '../src/checkNodeVersion.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { pgSql } from '../src/db/sql.ts';
import {
  decodePosition,
  encodePosition,
  InvalidPositionToken,
  type Position,
  ZERO_POSITION,
} from '../src/outbox/position.ts';
import { PROJECTION_NAMES, type ProjectionName } from '../src/projections/projection.ts';
import { rebuildsInProgress, startRebuild } from '../src/projections/rebuild.ts';
import { projectionStatuses } from '../src/projections/status.ts';
import { ALL_PROJECTIONS, verifyProjection } from '../src/readModels/registry.ts';
import { replayRange } from '../src/relay/replay.ts';
import { relayStatuses } from '../src/relay/status.ts';

const USAGE = `usage: npm run cli -- projections status | verify <name> | rebuild <name>
       npm run cli -- relay status | replay --from <position token | 0>
names: ${PROJECTION_NAMES.join(', ')}`;

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

async function database(): Promise<{ url: string; stop: () => Promise<void> }> {
  const config = loadConfig();
  if (config.databaseUrl) return { url: config.databaseUrl, stop: async () => {} };
  const portFile = join(config.dataDir, 'pg-port');
  if (existsSync(portFile)) {
    const url = `postgresql://postgres:parallax@127.0.0.1:${readFileSync(portFile, 'utf8').trim()}/parallax`;
    if (await canConnect(url)) return { url, stop: async () => {} };
  }
  const embedded = await startEmbeddedPostgres({ dir: config.dataDir, persistent: true });
  await migrate(embedded.url);
  return { url: embedded.url, stop: () => embedded.stop() };
}

const [area, command, name] = process.argv.slice(2);
if (area === 'relay') {
  process.exit(await relayCommand(command, process.argv.slice(4)));
}
if (area !== 'projections' || !['status', 'verify', 'rebuild'].includes(command ?? '')) {
  console.error(USAGE);
  process.exit(2);
}
if (command !== 'status' && !PROJECTION_NAMES.includes(name as ProjectionName)) {
  console.error(`unknown projection "${name ?? ''}"\n${USAGE}`);
  process.exit(2);
}

const db = await database();
const pool = new pg.Pool({ connectionString: db.url, max: 2 });
// READ_DATABASE_URL: the read models, checkpoints and rebuilds are there.
const readUrl = loadConfig().readDatabaseUrl;
const readPool = readUrl ? new pg.Pool({ connectionString: readUrl, max: 2 }) : pool;
const pools = { write: pool, read: readPool };
let exitCode = 0;
try {
  if (command === 'status') {
    for (const s of await projectionStatuses(pools, loadConfig())) {
      const rebuild = s.rebuild ? ` rebuild ${s.rebuild.processed}/${s.rebuild.total}` : '';
      console.log(
        `${s.name.padEnd(24)} ${s.state.padEnd(10)} v${s.version} lag ${s.lagEvents} events / ${s.lagMs} ms${rebuild}`,
      );
    }
  } else if (command === 'verify') {
    const report = await verifyProjection(pgSql(readPool), name as ProjectionName, undefined, pgSql(pool));
    console.log(`${report.projection}: ${report.rowsChecked} rows checked, ${report.differences.length} differences`);
    for (const d of report.differences) {
      const fields = d.fields.map(
        (f) => `${f.field}: expected ${JSON.stringify(f.expected)}, found ${JSON.stringify(f.actual)}`,
      );
      console.log(`  ${d.kind} ${d.table} ${JSON.stringify(d.key)}${fields.length ? ` — ${fields.join('; ')}` : ''}`);
    }
    if (report.differences.length) exitCode = 1;
  } else {
    const projection = ALL_PROJECTIONS.find((p) => p.name === name)!;
    const started = await startRebuild(readPool, projection, 'requested from the CLI', readUrl ? pool : undefined);
    console.log(started ? `rebuilding ${name}; a running projector builds it` : `${name} is already rebuilding`);
    for (;;) {
      const state = (await rebuildsInProgress(pgSql(readPool))).find((r) => r.name === name);
      if (!state) break;
      process.stdout.write(`\r${state.processed}/${state.totalEvents} events`);
      await new Promise((r) => setTimeout(r, 500));
    }
    console.log(`\n${name} rebuilt and swapped in`);
  }
} finally {
  await pool.end();
  if (readPool !== pool) await readPool.end();
  await db.stop();
}
process.exit(exitCode);

async function relayCommand(command: string | undefined, args: string[]): Promise<number> {
  if (command !== 'status' && command !== 'replay') {
    console.error(USAGE);
    return 2;
  }
  let from: Position = ZERO_POSITION;
  const config = (() => {
    try {
      return loadConfig();
    } catch (error) {
      if (error instanceof ConfigError) console.error(`configuration error: ${error.message}`);
      throw error;
    }
  })();
  if (command === 'replay') {
    const at = args.indexOf('--from');
    const token = at >= 0 ? args[at + 1] : undefined;
    if (!token) {
      console.error(`replay needs --from <position token | 0>\n${USAGE}`);
      return 2;
    }
    try {
      from = token === '0' ? ZERO_POSITION : decodePosition(token);
    } catch (error) {
      if (!(error instanceof InvalidPositionToken)) throw error;
      console.error(`${error.message}: use a position from \`relay status\`, a mutation result, or 0`);
      return 2;
    }
    if (!config.relay) {
      console.error('replay needs NATS_URL (and the NATS_STREAM / NATS_SUBJECT_PREFIX the relay uses)');
      return 2;
    }
  }
  const db = await database();
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  try {
    if (command === 'status') {
      const relays = await relayStatuses(pool);
      if (!relays.length) console.log('no relay has run against this database (NATS_URL unset)');
      for (const r of relays) {
        console.log(
          `${r.name.padEnd(10)} ${r.owner ? `run by ${r.owner}` : 'not running'} position ${r.position} lag ${r.lagEvents} events / ${r.lagMs} ms, ${r.eventsPublished} published${r.lastError ? `, last error: ${r.lastError}` : ''}`,
        );
      }
      return 0;
    }
    const result = await replayRange(pool, config.relay!, from, (done) => process.stdout.write(`\r${done} events`));
    if (!result.until) {
      console.log('the relay has published nothing yet: nothing to replay');
      return 0;
    }
    console.log(
      `\nreplayed ${result.events} events up to ${encodePosition(result.until)}: ${result.stored} stored, ${result.duplicates} dropped as duplicates (still within the stream's duplicate window)`,
    );
    return 0;
  } finally {
    await pool.end();
    await db.stop();
  }
}
