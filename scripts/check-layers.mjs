// Imports point one way, down the layers (part of `npm run lint`):
//   6 composition  main, runtime, seed, server/
//   5 API          graphql/, app.ts (the services the API is handed), readModels/*/graphql.ts
//   4 models       write/, read/, readModels/ (all but their graphql.ts)
//   3 engines      projections/, relay/, observability/metrics.ts and bus.ts
//   2 log          outbox/
//   1 infra        db/, auth/, bus/, observability/logger.ts and tracing.ts
//   0 shared       config, env, errors, events/, sleeper, nodeVersion, checkNodeVersion, generated/
// A module may import its own layer and those below; an import of a higher layer fails
// with the file, the import and both layers. Type-only imports count too.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** [path under src/ (a folder ends with /), layer]; the longest match wins. */
export const LAYERS = [
  ['main.ts', 6],
  ['runtime.ts', 6],
  ['seed.ts', 6],
  ['server/', 6],
  ['graphql/', 5],
  ['app.ts', 5],
  ['write/', 4],
  ['read/', 4],
  ['readModels/', 4],
  ['projections/', 3],
  ['relay/', 3],
  ['observability/metrics.ts', 3],
  ['observability/bus.ts', 3],
  ['outbox/', 2],
  ['db/', 1],
  ['auth/', 1],
  ['bus/', 1],
  ['observability/', 1],
  ['config.ts', 0],
  ['env.ts', 0],
  ['errors.ts', 0],
  ['events/', 0],
  ['nodeVersion.ts', 0],
  ['sleeper.ts', 0],
  ['checkNodeVersion.ts', 0],
  ['generated/', 0],
];

/** The layer of a path under src/, or undefined when no rule names it. */
export function layerOf(path) {
  if (/^readModels\/[^/]+\/graphql\.ts$/.test(path)) return 5;
  let best;
  for (const [prefix, layer] of LAYERS) {
    const matches = prefix.endsWith('/') ? path.startsWith(prefix) : path === prefix;
    if (matches && (!best || prefix.length > best[0].length)) best = [prefix, layer];
  }
  return best?.[1];
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/**
 * The upward imports among `files` (path under src/ → source text), in words; also
 * every file no layer rule names, so a new folder has to be placed.
 */
export function layerViolations(files) {
  const problems = [];
  for (const [path, source] of files) {
    const from = layerOf(path);
    if (from === undefined) {
      problems.push(`${path}: in no layer (add its folder to LAYERS in scripts/check-layers.mjs)`);
      continue;
    }
    for (const match of source.matchAll(IMPORT)) {
      const spec = match[1] ?? match[2];
      const target = normalize(join(dirname(path), spec));
      if (target.startsWith('..')) continue;
      const to = layerOf(target);
      if (to !== undefined && to > from) {
        problems.push(`${path} (layer ${from}) imports ${target} (layer ${to}): imports point down the layers`);
      }
    }
  }
  return problems;
}

function sources(root) {
  const files = new Map();
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) files.set(relative(root, full), readFileSync(full, 'utf8'));
    }
  };
  walk(root);
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '../src');
  const problems = layerViolations(sources(root));
  for (const p of problems) console.error(p);
  if (problems.length) {
    console.error(`${problems.length} import(s) against the layers`);
    process.exit(1);
  }
  console.log('layers: every import points down');
}
