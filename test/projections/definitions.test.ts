// Each read model's definition (what a rebuild's shadow is created from) is the shape
// the migrations give a new database: same columns (type, nullability, default,
// generated expression), constraints and indexes. A definition that drifted from the
// migrations would swap in tables other than the ones a new database starts with.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_PROJECTIONS } from '../../src/readModels/registry.ts';
import { createTestApp, type TestApp } from '../support/app.ts';

async function shapeOf(client: pg.ClientBase, schema: string, tables: string[]) {
  const shapes: Record<string, unknown> = {};
  for (const table of tables) {
    const relation = `${schema}.${table}`;
    const columns = await client.query(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
              a.attgenerated AS generated, pg_get_expr(d.adbin, d.adrelid) AS expression
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attname`,
      [relation],
    );
    const constraints = await client.query(
      `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conrelid = $1::regclass ORDER BY conname`,
      [relation],
    );
    const indexes = await client.query<{ name: string; def: string }>(
      'SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY 1',
      [schema, table],
    );
    shapes[table] = {
      columns: columns.rows,
      constraints: constraints.rows,
      indexes: indexes.rows.map((i) => ({ name: i.name, def: i.def.replace(` ON ${schema}.`, ' ON <schema>.') })),
    };
  }
  return shapes;
}

describe('read-model definitions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it.each(ALL_PROJECTIONS.map((p) => [p.name, p] as const))(
    '%s: the definition equals the migrated tables',
    async (_name, projection) => {
      const client = await t.readPool.connect();
      try {
        await client.query('BEGIN');
        await client.query('CREATE SCHEMA definition_check');
        await client.query('SET LOCAL search_path = definition_check, public');
        for (const statement of [...projection.definition.tables, ...projection.definition.indexes]) {
          await client.query(statement);
        }
        await client.query('SET LOCAL search_path = public');
        const defined = await shapeOf(client, 'definition_check', projection.tables);
        const migrated = await shapeOf(client, 'public', projection.tables);
        expect(Object.keys(defined)).toEqual(projection.tables);
        expect(defined).toEqual(migrated);
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    },
  );
});
