// What the read side knows of each read model's live version, so that a column a later
// version brings (tables.ts `since`) is served only once that version's tables are
// live. Learned from projection_versions, which a swap commits together with its tables
// (projections/rebuild.ts), so what is known is never ahead of the tables; refreshed in
// the background at most once a second. Until a version is known, its columns are read
// tolerantly (tables.ts selectList): null while the live tables lack them.
import type pg from 'pg';

const REFRESH_MS = 1_000;

interface Known {
  versions: Map<string, number>;
  at: number;
  loading: boolean;
}

const knownByPool = new WeakMap<pg.Pool, Known>();

/**
 * Set on a pool whose queries may run elsewhere when its database is away (a read
 * replica's, read/replicas.ts): versions are learned from this pool only, since another
 * database's version could be ahead of the tables this one serves.
 */
export const VERSIONS_FROM = Symbol('versions from');

/** The version of read model `name` known to be live in `pool`'s database (0 until learned). */
export function knownVersion(pool: pg.Pool, name: string): number {
  let known = knownByPool.get(pool);
  if (!known) {
    known = { versions: new Map(), at: 0, loading: false };
    knownByPool.set(pool, known);
  }
  if (!known.loading && Date.now() - known.at >= REFRESH_MS) {
    const state = known;
    state.loading = true;
    const from = (pool as pg.Pool & { [VERSIONS_FROM]?: pg.Pool })[VERSIONS_FROM] ?? pool;
    from
      .query<{ name: string; version: number }>('SELECT name, version FROM projection_versions')
      .then(({ rows }) => {
        state.versions = new Map(rows.map((r) => [r.name, r.version]));
        state.at = Date.now();
      })
      // Unknown meanwhile: the tolerant read is right for any version.
      .catch(() => {})
      .finally(() => {
        state.loading = false;
      });
  }
  return known.versions.get(name) ?? 0;
}
