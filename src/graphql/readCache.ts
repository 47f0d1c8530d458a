// A response cache for read-model queries, keyed so that it can never answer with
// data older than a position the caller holds or with another scope's data:
//
//   key = the caller's read scope (role, and customer id for customers: everything the
//         answers depend on besides the request) + the position of every projection as
//         this process knows it (the consistency watcher's, from committed checkpoints)
//         + the document, operation name and variables.
//
// A response is stored under the positions read *before* it was executed, so it holds
// at least what those positions cover; a projection that moves makes a new key. A
// caller that passes a token (`consistency`) is never served from the cache: it waits,
// reads, and from then on the watcher's positions (and so every key) are at least its
// token. Without a token an answer may be up to READ_CACHE_TTL_MS old (the watcher
// hears of a new position a few milliseconds after its commit; without Redis messages,
// not until the TTL), as an answer from a replica would be.
//
// Only queries whose every root field reads read models, only answers without errors,
// at most READ_CACHE_MAX_ENTRIES entries (the oldest go first); 0 turns it off. Every
// other plugin (authentication, limits, logging, metrics, the read-model freshness
// extension) runs for a cached answer as for any other.
import { type DocumentNode, getOperationAST, Kind } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { encodePosition } from '../outbox/position.ts';
import { PROJECTION_NAMES } from '../projections/projection.ts';
import type { GraphQLContext } from './context.ts';

/** Root query fields that read only read models (and may be cached). */
const READ_MODEL_FIELDS = new Set([
  'orders',
  'order',
  'customerOrderHistory',
  'searchOrders',
  'autocomplete',
  'orderAnalytics',
]);

export interface ReadCacheOptions {
  maxEntries: number;
  ttlMs: number;
}

/**
 * How an operation may be cached: a query of read-model fields only, with no directives
 * and no `consistency` argument written out; `tokenVariables` are the variables passed
 * as `consistency` (a request that sets one waits for a token and is not cached). False
 * when it may never be cached.
 */
function cacheability(
  document: DocumentNode,
  operationName: string | null | undefined,
): { tokenVariables: string[] } | false {
  const op = getOperationAST(document, operationName ?? undefined);
  if (op?.operation !== 'query' || op.directives?.length) return false;
  const tokenVariables: string[] = [];
  for (const s of op.selectionSet.selections) {
    if (s.kind !== Kind.FIELD || !READ_MODEL_FIELDS.has(s.name.value) || s.directives?.length) return false;
    const consistency = s.arguments?.find((a) => a.name.value === 'consistency');
    if (!consistency || consistency.value.kind === Kind.NULL) continue;
    if (consistency.value.kind !== Kind.VARIABLE) return false;
    tokenVariables.push(consistency.value.name.value);
  }
  return { tokenVariables };
}

/** Sets `key` as the newest entry of `map`, dropping the oldest beyond `max`. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) map.delete(map.keys().next().value!);
}

/** The data of a single result without errors (the only kind kept), else undefined. */
function cleanData(result: unknown): unknown {
  if (Symbol.asyncIterator in (result as object)) return undefined;
  const single = result as { data?: unknown; errors?: unknown[] };
  return single.data && !single.errors?.length ? single.data : undefined;
}

interface Entry {
  at: number;
  data: unknown;
  readModels: string[];
}

export class ReadCache {
  private readonly entries = new Map<string, Entry>();
  /** Executions in flight per key: concurrent misses of one key wait for the first (single flight). */
  private readonly inflight = new Map<string, Promise<{ result: unknown; readModels: string[] }>>();
  /**
   * The read models an answer read, per request without positions (scope, document,
   * variables): its key then holds only their positions, so a write that moves another
   * projection does not replace it. Unknown (first execution): every projection's.
   */
  private readonly learned = new Map<string, string[]>();
  /** Per parsed document (yoga's parser cache hands out the same object for the same text): an id, or false. */
  private readonly documents = new WeakMap<
    DocumentNode,
    Map<string, { id: number; tokenVariables: string[] } | false>
  >();
  private nextDocument = 1;

  constructor(private readonly options: ReadCacheOptions) {}

  private documentId(
    document: DocumentNode,
    operationName: string | null | undefined,
  ): { id: number; tokenVariables: string[] } | false {
    let byOperation = this.documents.get(document);
    if (!byOperation) {
      byOperation = new Map();
      this.documents.set(document, byOperation);
    }
    const name = operationName ?? '';
    let id = byOperation.get(name);
    if (id === undefined) {
      const how = cacheability(document, operationName);
      id = how && { id: this.nextDocument++, tokenVariables: how.tokenVariables };
      byOperation.set(name, id);
    }
    return id;
  }

  /** The request's key without positions, or undefined when it must not be cached. */
  baseKeyOf(ctx: GraphQLContext, document: DocumentNode, operationName: string | null | undefined, variables: unknown) {
    if (!this.options.maxEntries || !ctx.subject || !ctx.app.watcher) return undefined;
    const doc = this.documentId(document, operationName);
    if (doc === false) return undefined;
    const values = (variables ?? {}) as Record<string, unknown>;
    if (doc.tokenVariables.some((v) => values[v] != null)) return undefined;
    const scope = `${ctx.subject.role}:${ctx.subject.role === 'customer' ? (ctx.subject.customerId ?? '') : ''}`;
    return `${scope}|${doc.id}|${variables === undefined ? '' : JSON.stringify(variables)}`;
  }

  /** The key: the base key and the positions (read before execution) of the read models the answer reads. */
  private keyFrom(base: string, readModels: readonly string[], positions: Map<string, string>): string {
    return `${base}|${readModels.map((p) => `${p}@${positions.get(p)}`).join(',')}`;
  }

  get(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (Date.now() - entry.at > this.options.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private set(base: string, positions: Map<string, string>, data: unknown, readModels: string[]): void {
    if (!this.learned.has(base)) remember(this.learned, base, [...readModels].sort(), this.options.maxEntries);
    const key = this.keyFrom(base, this.learned.get(base)!, positions);
    remember(this.entries, key, { at: Date.now(), data, readModels }, this.options.maxEntries);
  }

  plugin(): Plugin<GraphQLContext> {
    return {
      onExecute: ({ args, executeFn, setExecuteFn }) => {
        const ctx = args.contextValue as GraphQLContext;
        const base = this.baseKeyOf(ctx, args.document, args.operationName, args.variableValues);
        if (base === undefined) return;
        const watcher = ctx.app.watcher!;
        // Read before execution: the answer holds at least what these positions cover.
        const positions = new Map(PROJECTION_NAMES.map((p) => [p, encodePosition(watcher.position(p))]));
        const key = this.keyFrom(base, this.learned.get(base) ?? PROJECTION_NAMES, positions);
        const metrics = ctx.app.metrics;
        const answer = (data: unknown, readModels: string[]) => {
          // What the answer read, for the freshness extension (useReadModelFreshness).
          for (const p of readModels) ctx.readModels.add(p);
          return { data: data as Record<string, unknown>, extensions: { readCache: 'HIT' } };
        };
        setExecuteFn(async (execution) => {
          const hit = this.get(key);
          if (hit) {
            metrics.readCache.inc({ outcome: 'hit' });
            return answer(hit.data, hit.readModels);
          }
          const pending = this.inflight.get(key);
          if (pending) {
            // Another request is executing this very key: its answer is as new as ours would be.
            const first = await pending.catch(() => undefined);
            const data = first && cleanData(first.result);
            if (data) {
              metrics.readCache.inc({ outcome: 'hit' });
              return answer(data, first.readModels);
            }
          }
          metrics.readCache.inc({ outcome: 'miss' });
          const run = Promise.resolve(executeFn(execution)).then((result) => ({
            result,
            readModels: [...ctx.readModels],
          }));
          // Only an answer read from the primary holds what the positions cover: a replica
          // may lag behind them (read/replicas.ts), so its answers are neither shared nor kept.
          const fromPrimary = ctx.read === ctx.app.reads.primary;
          if (!pending && fromPrimary) this.inflight.set(key, run);
          try {
            const { result, readModels } = await run;
            const data = cleanData(result);
            if (data && fromPrimary) this.set(base, positions, data, readModels);
            return result;
          } finally {
            if (this.inflight.get(key) === run) this.inflight.delete(key);
          }
        });
      },
    };
  }
}
