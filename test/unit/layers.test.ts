// The layer rule `npm run lint` enforces (scripts/check-layers.mjs).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script, without type declarations
import { layerOf, layerViolations } from '../../scripts/check-layers.mjs';

const SRC = join(import.meta.dirname, '../../src');

function sourceTree(): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(SRC, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const full = join(entry.parentPath, entry.name);
    files.set(relative(SRC, full), readFileSync(full, 'utf8'));
  }
  return files;
}

describe('the layer check', () => {
  it('places every source file and finds no upward import in src/', () => {
    const files = sourceTree();
    expect(files.size).toBeGreaterThan(50);
    expect(layerViolations(files)).toEqual([]);
  });

  it('fails an import that points up, also a type-only or multi-line one', () => {
    const files = new Map([
      ['db/sql.ts', "import type { App } from '../app.ts';"],
      ['outbox/append.ts', "import {\n  orderListViewProjection,\n} from '../projections/orderListView.ts';"],
      ['projections/engine.ts', "import { createHash } from 'node:crypto';\nimport type { Sql } from '../db/sql.ts';"],
    ]);
    expect(layerViolations(files)).toEqual([
      'db/sql.ts (layer 1) imports app.ts (layer 5): imports point down the layers',
      'outbox/append.ts (layer 2) imports projections/orderListView.ts (layer 3): imports point down the layers',
    ]);
  });

  it('puts a read model folder under its GraphQL file, and a new folder nowhere until it is placed', () => {
    expect(layerOf('readModels/orderListView/projection.ts')).toBe(4);
    expect(layerOf('readModels/orderListView/graphql.ts')).toBe(5);
    expect(layerViolations(new Map([['payments/gateway.ts', '']]))).toEqual([
      'payments/gateway.ts: in no layer (add its folder to LAYERS in scripts/check-layers.mjs)',
    ]);
  });
});
