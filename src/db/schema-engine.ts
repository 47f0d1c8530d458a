// Prisma's WebAssembly schema engine, loaded by hand: the package is built for
// bundlers (it imports a .wasm module), and the native engine the Prisma CLI
// would download is not available everywhere. Used to create migration SQL
// offline (scripts/migrate-diff.ts); migrations are applied by src/db/migrate.ts.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

type EngineModule = typeof import('@prisma/schema-engine-wasm');

interface WasmApi {
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: Record<string, unknown> } }>;
}

let loaded: Promise<EngineModule> | undefined;

export function loadSchemaEngine(): Promise<EngineModule> {
  loaded ??= (async () => {
    const bgPath = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const bg = (await import(pathToFileURL(bgPath).href)) as EngineModule & {
      __wbg_set_wasm(exports: unknown): void;
    };
    const bytes = await readFile(join(dirname(bgPath), 'schema_engine_bg.wasm'));
    // Node has WebAssembly; the ES lib typings this project compiles against do not.
    const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    const { instance } = await wasm.instantiate(bytes, { './schema_engine_bg.js': bg });
    bg.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return bg;
  })();
  return loaded;
}
