// Zero-downtime rebuild of one read model (see the migration for the layout).
//
// The shadow is built by the ordinary engine in "shadow mode": same projection code,
// same batches, but `SET LOCAL search_path = rebuild_<name>_<run>, public` so the projection's
// unqualified table names resolve to the shadow tables, and its own checkpoint row.
// When the shadow has caught up, swap() does, in one transaction: lock both checkpoints
// (the live runner waits), apply whatever the shadow still lacks, move the live tables
// out of public and the shadow tables in, hand the shadow's projection_customers rows
// over, and move the live checkpoint to the shadow's position. Queries block for the
// moment of the swap and then read the new tables; none sees an empty or partial list.
import type pg from 'pg';
import { outboxSql } from '../db/pools.ts';
import { pgSql, type Sql } from '../db/sql.ts';
import { comparePositions } from '../outbox/position.ts';
import { assertDecoded, readCommitted } from '../outbox/reader.ts';
import { type Checkpoint, lockCheckpoint } from './checkpoints.ts';
import { resolveByRebuild } from './parking.ts';
import type { Projection } from './projection.ts';
import { atVersion } from './shapes.ts';

export const REBUILD_CHANNEL = 'parallax_rebuild';

/** Schemas are named per run, so the trailing DROP of one run can never hit the next run's. */
export const shadowSchema = (name: string, runId: string) => `rebuild_${name}_${runId}`;
const retiredSchema = (name: string, runId: string) => `retired_${name}_${runId}`;
export const shadowCheckpoint = (name: string) => `${name}#rebuild`;

export interface RebuildState {
  name: string;
  /** Identifies this run of the rebuild (and its schemas). */
  runId: string;
  version: number;
  reason: string;
  totalEvents: number;
  startedAt: Date;
  processed: number;
  /** The shadow stopped on a failure (see lastError); a new rebuildProjection starts over. */
  stalled: boolean;
  lastError: string | null;
}

export async function rebuildsInProgress(sql: Sql): Promise<RebuildState[]> {
  const rows = await sql.query<{
    name: string;
    run_id: string;
    version: number;
    reason: string;
    total_events: string;
    started_at: Date;
    processed: string | null;
    state: string | null;
    last_error: string | null;
  }>(
    `SELECT r.name, r.run_id::text AS run_id, r.version, r.reason, r.total_events::text AS total_events, r.started_at,
            c.events_applied::text AS processed, c.state, c.last_error
       FROM projection_rebuilds r LEFT JOIN projection_checkpoints c ON c.name = r.name || '#rebuild'
      ORDER BY r.name`,
  );
  return rows.map((r) => ({
    name: r.name,
    runId: r.run_id,
    version: r.version,
    reason: r.reason,
    totalEvents: Number(r.total_events),
    startedAt: r.started_at,
    processed: Number(r.processed ?? 0),
    stalled: r.state === 'STALLED',
    lastError: r.last_error,
  }));
}

/**
 * Starts a rebuild of `projection` into a fresh shadow, unless one is running (a STALLED
 * one is replaced). Returns false when one already was. The shadow is this code's
 * version (its definition, its shape), so that is the version the swap records.
 */
export async function startRebuild(
  pool: pg.Pool,
  projection: Projection,
  reason: string,
  /** The write database, when the read models live in another one. */
  outboxPool?: pg.Pool,
): Promise<boolean> {
  const version = projection.version;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // The progress bar's total: counted where the outbox is (this transaction with one database).
    const [{ total } = { total: '0' }] = await outboxSql(pgSql(client), outboxPool).query<{ total: string }>(
      'SELECT count(*)::text AS total FROM outbox',
    );
    // Serializes concurrent starts (several projectors at boot, a mutation).
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`rebuild:${projection.name}`]);
    // A run whose shadow is STALLED is replaced: it cannot go on (a failure it keeps
    // hitting, or its schema gone), and starting over is what the operator asks for.
    const stalled = await client.query<{ run_id: string }>(
      `DELETE FROM projection_rebuilds r USING projection_checkpoints c
        WHERE r.name = $1 AND c.name = $2 AND c.state = 'STALLED'
       RETURNING r.run_id::text AS run_id`,
      [projection.name, shadowCheckpoint(projection.name)],
    );
    for (const { run_id } of stalled.rows) {
      await client.query(`DROP SCHEMA IF EXISTS ${shadowSchema(projection.name, run_id)} CASCADE`);
    }
    const inserted = await client.query<{ run_id: string }>(
      `INSERT INTO projection_rebuilds (name, version, reason, total_events)
       VALUES ($1, $2, $3, $4::bigint)
       ON CONFLICT (name) DO NOTHING
       RETURNING run_id::text AS run_id`,
      [projection.name, version, reason, total],
    );
    if (!inserted.rowCount) {
      await client.query('ROLLBACK');
      return false;
    }
    const schema = shadowSchema(projection.name, inserted.rows[0]!.run_id);
    await client.query(`CREATE SCHEMA ${schema}`);
    // The shadow's tables come from the projection's definition (its current version's
    // shape, which may differ from the live tables': see shapes.ts), not from the live
    // tables. Bulk load: they start with their keys only (primary keys and unique
    // constraints, which the batches' lookups and ON CONFLICT need); the other indexes
    // (search's GIN and trigram ones above all) are built once the shadow has caught
    // up, before the swap (buildDeferredIndexes), instead of row by row.
    await client.query(`SET LOCAL search_path = ${schema}, public`);
    for (const statement of projection.definition.tables) await client.query(statement);
    await client.query('SET LOCAL search_path = public');
    // The projection's customer copies are engine bookkeeping, the same in every version.
    await client.query(`CREATE TABLE ${schema}.projection_customers (LIKE public.projection_customers INCLUDING ALL)`);
    await client.query(
      `INSERT INTO projection_checkpoints (name) VALUES ($1)
       ON CONFLICT (name) DO UPDATE SET tx_id = '0', seq = 0, state = 'LIVE', events_applied = 0, retries = 0,
         last_error = NULL, error_tx_id = NULL, error_seq = NULL, updated_at = now()`,
      [shadowCheckpoint(projection.name)],
    );
    await client.query(`SELECT pg_notify('${REBUILD_CHANNEL}', $1)`, [projection.name]);
    await client.query('COMMIT');
    return true;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Builds a caught-up shadow's other indexes (left out while it loaded, see
 * startRebuild), one statement per index over the whole table, before the swap.
 * Idempotent: a run that stopped halfway builds the rest. The number built.
 */
export async function buildDeferredIndexes(pool: pg.Pool, projection: Projection, runId: string): Promise<number> {
  const schema = shadowSchema(projection.name, runId);
  const client = await pool.connect();
  let built = 0;
  try {
    const { rows } = await client.query<{ name: string }>(
      'SELECT indexname AS name FROM pg_indexes WHERE schemaname = $1',
      [schema],
    );
    const present = new Set(rows.map((r) => r.name));
    for (const index of projection.definition.indexes) {
      const [, name] = /^CREATE INDEX (\w+) ON /.exec(index) ?? [];
      if (!name) throw new Error(`${projection.name}: not a plain CREATE INDEX <name> ON ...: ${index}`);
      if (present.has(name)) continue;
      // Unqualified, the index's table resolves to the shadow's, and the index goes beside it.
      await client.query('BEGIN');
      if (!(await enterShadow(client, schema))) throw new Error(`rebuild schema ${schema} is missing`);
      await client.query(index);
      await client.query('COMMIT');
      built += 1;
    }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
  return built;
}

/**
 * Points this transaction's unqualified table names at a rebuild's shadow schema.
 * search_path silently skips a schema that does not exist (the projection would then
 * write into the live tables): false, and nothing is set, when it is missing.
 */
export async function enterShadow(client: pg.ClientBase, schema: string): Promise<boolean> {
  await client.query(`SET LOCAL search_path = ${schema}, public`);
  const { rows } = await client.query<{ ok: boolean }>('SELECT $1 = ANY(current_schemas(false)) AS ok', [schema]);
  if (rows[0]?.ok) return true;
  await client.query('SET LOCAL search_path = public');
  return false;
}

/**
 * The version `runId` builds while it is still the rebuild in progress for `name`;
 * undefined once it was swapped in or replaced.
 */
async function currentRunVersion(client: pg.ClientBase, name: string, runId: string): Promise<number | undefined> {
  const { rows } = await client.query<{ version: number }>(
    'SELECT version FROM projection_rebuilds WHERE name = $1 AND run_id = $2::bigint',
    [name, runId],
  );
  return rows[0]?.version;
}

/**
 * Inside a shadow runner's batch transaction, after it locked the shadow checkpoint:
 * 'gone' when its run was swapped in elsewhere or replaced by a newer one (the runner
 * is done); 'missing' when the run's schema is not there (the shadow stalls, saying
 * so: it never replays into the live tables); else 'ok', with search_path on the
 * shadow schema. A stalled shadow does not enter its schema: its batch ends there.
 */
export async function openShadowBatch(
  client: pg.ClientBase,
  name: string,
  runId: string,
  checkpoint: Checkpoint,
): Promise<'ok' | 'gone' | 'missing'> {
  if ((await currentRunVersion(client, name, runId)) === undefined) return 'gone';
  if (checkpoint.state === 'LIVE' && !(await enterShadow(client, shadowSchema(name, runId)))) return 'missing';
  return 'ok';
}

export type SwapResult = 'swapped' | 'busy' | 'gone';

/**
 * Swaps a caught-up shadow in. 'busy' (and nothing changed) when another worker holds
 * either checkpoint right now or the shadow is still behind: the caller tries again on
 * its next idle round. 'gone' when this run is no longer the rebuild in progress.
 */
export async function swapIn(
  pool: pg.Pool,
  projection: Projection,
  runId: string,
  batchSize: number,
  /** The write database, when the read models live in another one. */
  outboxPool?: pg.Pool,
): Promise<SwapResult> {
  const name = projection.name;
  const schema = shadowSchema(name, runId);
  const retired = retiredSchema(name, runId);
  const client = await pool.connect();
  const sql = pgSql(client);
  try {
    await client.query('BEGIN');
    const live = await lockCheckpoint(sql, name);
    const shadow = live && (await lockCheckpoint(sql, shadowCheckpoint(name)));
    if (!live || !shadow) {
      await client.query('ROLLBACK');
      return 'busy';
    }
    // The shadow's shape is its rebuild's version (see shapes.ts).
    const version = await currentRunVersion(client, name, runId);
    if (version === undefined || !(await enterShadow(client, schema))) {
      await client.query('ROLLBACK');
      return 'gone';
    }
    if (version > projection.version) {
      await client.query('ROLLBACK');
      return 'busy';
    }
    const target = atVersion(sql, name, version);
    // Whatever the live model has applied and the shadow not yet: apply it to the shadow.
    let position = shadow.position;
    let applied = shadow.eventsApplied;
    while (comparePositions(position, live.position) < 0) {
      const events = (await readCommitted(outboxSql(sql, outboxPool), position, batchSize)).filter(
        (e) => comparePositions(e.position, live.position) <= 0,
      );
      if (!events.length) break;
      assertDecoded(events);
      await projection.apply(target, events);
      position = events.at(-1)!.position;
      applied += events.length;
    }
    await client.query('SET LOCAL search_path = public');
    if (comparePositions(position, live.position) < 0) {
      await client.query('ROLLBACK');
      return 'busy';
    }
    // The new version is recorded first: an INLINE command reads it FOR SHARE before it
    // writes (inline.ts), so it either finishes with the old tables before this goes on,
    // or waits for the commit and writes the new tables in the new shape. The table lock
    // queues new commands behind the swap (row locks alone would let a steady stream of
    // commands starve it); plain reads of the versions go on.
    await client.query('LOCK TABLE projection_versions IN EXCLUSIVE MODE');
    await client.query(
      `INSERT INTO projection_versions (name, version) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version`,
      [name, version],
    );
    // The shadow's customer copies replace the live ones first, the tables move last: an
    // INLINE command locks its customer copy (FOR UPDATE) before it writes the tables, so
    // this is the commands' own lock order (the other order deadlocks with such a command).
    // A copy is updated in place, never deleted and inserted again, so a command waiting
    // on it finds it afterwards. Copies only the live side has (events past the checkpoint,
    // applied inline) go, and come back when the engine applies those events to the new tables.
    await client.query(
      `INSERT INTO public.projection_customers AS p
       SELECT * FROM ${schema}.projection_customers WHERE projection = $1 ORDER BY customer_id
       ON CONFLICT (projection, customer_id) DO UPDATE
         SET name = EXCLUDED.name, email = EXCLUDED.email, version = EXCLUDED.version, erased = EXCLUDED.erased`,
      [name],
    );
    await client.query(
      `DELETE FROM public.projection_customers AS p
        WHERE p.projection = $1
          AND NOT EXISTS (SELECT 1 FROM ${schema}.projection_customers AS s
                           WHERE s.projection = $1 AND s.customer_id = p.customer_id)`,
      [name],
    );
    await client.query(`CREATE SCHEMA ${retired}`);
    for (const table of projection.tables) {
      await client.query(`ALTER TABLE public.${table} SET SCHEMA ${retired}`);
      await client.query(`ALTER TABLE ${schema}.${table} SET SCHEMA public`);
    }
    await client.query(
      `UPDATE projection_checkpoints SET tx_id = $2::xid8, seq = $3::bigint, events_applied = $4::bigint, updated_at = now()
        WHERE name = $1`,
      [name, position.txId.toString(), position.seq.toString(), applied],
    );
    await client.query('DELETE FROM projection_checkpoints WHERE name = $1', [shadowCheckpoint(name)]);
    // The shadow applied every event up to the checkpoint, parked ones included.
    await resolveByRebuild(pgSql(client), name);
    await client.query('DELETE FROM projection_rebuilds WHERE name = $1', [name]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
  // Queries that were waiting on the old tables have re-resolved to the new ones; the
  // drop waits for any still reading the old ones. Both schemas are this run's own.
  await pool.query(`DROP SCHEMA IF EXISTS ${retired} CASCADE`);
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  return 'swapped';
}

/** Starts rebuilds for projections whose code version differs from the live read model's. */
export async function rebuildOutdated(
  pool: pg.Pool,
  projections: Projection[],
  outboxPool?: pg.Pool,
): Promise<string[]> {
  const { rows } = await pool.query<{ name: string; version: number }>('SELECT name, version FROM projection_versions');
  const live = new Map(rows.map((r) => [r.name, r.version]));
  const started: string[] = [];
  for (const p of projections) {
    const current = live.get(p.name);
    if (current === undefined) {
      await pool.query('INSERT INTO projection_versions (name, version) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
        p.name,
        p.version,
      ]);
    } else if (
      current !== p.version &&
      (await startRebuild(pool, p, `version ${current} → ${p.version}`, outboxPool))
    ) {
      started.push(p.name);
    }
  }
  return started;
}
