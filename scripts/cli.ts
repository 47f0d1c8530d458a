// Operator commands.
//   npm run cli -- projections status
//   npm run cli -- projections verify <name>    exit 1 when the read model differs
//   npm run cli -- projections rebuild <name>   start a rebuild, follow it until swapped in
// Uses DATABASE_URL, else the embedded PostgreSQL of `npm start` (started if not running).
// First: refuses an unsupported Node.js before the rest of the graph is evaluated.
import '../src/checkNodeVersion.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { PROJECTION_NAMES, type ProjectionName } from '../src/projections/projection.ts';
import { rebuildsInProgress, startRebuild } from '../src/projections/rebuild.ts';
import { ALL_PROJECTIONS } from '../src/projections/registry.ts';
import { pgSql } from '../src/projections/sql.ts';
import { projectionStatuses } from '../src/projections/status.ts';
import { verifyProjection } from '../src/projections/verify.ts';

const USAGE = `usage: npm run cli -- projections status | verify <name> | rebuild <name>
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
let exitCode = 0;
try {
  if (command === 'status') {
    for (const s of await projectionStatuses(pool, loadConfig())) {
      const rebuild = s.rebuild ? ` rebuild ${s.rebuild.processed}/${s.rebuild.total}` : '';
      console.log(
        `${s.name.padEnd(24)} ${s.state.padEnd(10)} v${s.version} lag ${s.lagEvents} events / ${s.lagMs} ms${rebuild}`,
      );
    }
  } else if (command === 'verify') {
    const report = await verifyProjection(pgSql(pool), name as ProjectionName);
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
    const { rows } = await pool.query<{ version: number }>('SELECT version FROM projection_versions WHERE name = $1', [
      name,
    ]);
    const started = await startRebuild(
      pool,
      projection,
      rows[0]?.version ?? projection.version,
      'requested from the CLI',
    );
    console.log(started ? `rebuilding ${name}; a running projector builds it` : `${name} is already rebuilding`);
    for (;;) {
      const state = (await rebuildsInProgress(pgSql(pool))).find((r) => r.name === name);
      if (!state) break;
      process.stdout.write(`\r${state.processed}/${state.totalEvents} events`);
      await new Promise((r) => setTimeout(r, 500));
    }
    console.log(`\n${name} rebuilt and swapped in`);
  }
} finally {
  await pool.end();
  await db.stop();
}
process.exit(exitCode);
