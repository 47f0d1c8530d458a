import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { expect, inject } from 'vitest';

/** A fresh, migrated database for one spec file, cloned from the run's template. */
export async function createSpecDatabase(): Promise<string> {
  return cloneTemplate(inject('databaseServerUrl'), inject('templateDatabase'));
}

/**
 * A fresh read database for one spec file when the run tests the separate layout
 * (TEST_READ_DATABASE=separate), else undefined: the read models are in the write database.
 */
export async function createSpecReadDatabase(): Promise<string | undefined> {
  const server = inject('readDatabaseServerUrl');
  const template = inject('readTemplateDatabase');
  return server && template ? cloneTemplate(server, template) : undefined;
}

async function cloneTemplate(server: string, template: string): Promise<string> {
  const name = `${template.replace('parallax_tpl_', 'parallax_t_')}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Row counts of the write tables and the outbox, to prove a failed command changed nothing. */
export async function writeCounts(pool: pg.Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<Record<string, string>>(`SELECT
    (SELECT count(*) FROM customers) AS customers,
    (SELECT count(*) FROM products) AS products,
    (SELECT count(*) FROM orders) AS orders,
    (SELECT count(*) FROM order_items) AS order_items,
    (SELECT count(*) FROM outbox) AS outbox,
    (SELECT count(*) FROM idempotency_records) AS idempotency_records`);
  return Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, Number(v)]));
}

/** Runs a request that must fail and expects it to have changed nothing in the write tables or the outbox. */
export async function changesNothing<R>(pool: pg.Pool, run: () => Promise<R>): Promise<R> {
  const before = await writeCounts(pool);
  const result = await run();
  expect(await writeCounts(pool)).toEqual(before);
  return result;
}
