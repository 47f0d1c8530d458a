// Read-your-writes on the GraphQL surface: `consistency` arguments on queries and
// mutations, and the freshness of every read model read, in `extensions`.
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { pgSql } from '../db/sql.ts';
import { decodePosition, encodePosition, InvalidPositionToken } from '../outbox/position.ts';
import { parkedAt } from '../projections/parking.ts';
import type { ProjectionName } from '../projections/projection.ts';
import { ConsistencyTimeout, MAX_CONSISTENCY_TIMEOUT_MS } from '../read/consistency.ts';
import { createLoaders } from '../read/loaders.ts';
import { builder } from './builder.ts';
import type { GraphQLContext } from './context.ts';
import { ProjectionNameEnum } from './types/projection.ts';

export const DEFAULT_CONSISTENCY_TIMEOUT_MS = 5_000;

export const ConsistencyInput = builder.inputType('ConsistencyInput', {
  description: 'Answer only once the read models this field reads have passed `atLeast` (a mutation position).',
  fields: (t) => ({
    atLeast: t.string({ required: true, description: 'A position token from a mutation result.' }),
    timeoutMs: t.int({
      description: `Give up with CONSISTENCY_TIMEOUT after this long (default ${DEFAULT_CONSISTENCY_TIMEOUT_MS}, at most ${MAX_CONSISTENCY_TIMEOUT_MS}).`,
    }),
  }),
});

export const MutationConsistencyInput = builder.inputType('MutationConsistencyInput', {
  description: 'Hybrid mode: return only once the named projections have applied this command.',
  fields: (t) => ({
    waitFor: t.field({ type: [ProjectionNameEnum], required: true }),
    timeoutMs: t.int(),
  }),
});

function timeoutOf(timeoutMs: number | null | undefined): number {
  const ms = timeoutMs ?? DEFAULT_CONSISTENCY_TIMEOUT_MS;
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_CONSISTENCY_TIMEOUT_MS) {
    throw createGraphQLError(`timeoutMs must be 0 to ${MAX_CONSISTENCY_TIMEOUT_MS}`, {
      extensions: { code: 'BAD_USER_INPUT', argument: 'consistency' },
    });
  }
  return ms;
}

async function waitForPosition(ctx: GraphQLContext, projections: string[], token: string, timeoutMs: number) {
  const watcher = ctx.app.watcher;
  if (!watcher) throw new Error('no position watcher in this process');
  try {
    await watcher.waitFor(projections, token, timeoutMs);
    // Passed, but maybe by parking the token's own event: say so instead of answering
    // without the write (see projections/parking.ts).
    const parked = await parkedAt(pgSql(ctx.app.pools.read), projections, decodePosition(token));
    if (parked) {
      throw createGraphQLError(
        `${parked.projection} parked event ${encodePosition(parked.position)} of ${parked.aggregateType} ${parked.aggregateId}: this read model will not show the write until the event is retried`,
        {
          extensions: {
            code: 'PARKED',
            projection: parked.projection,
            aggregateType: parked.aggregateType,
            aggregateId: parked.aggregateId,
            parkedPosition: encodePosition(parked.position),
          },
        },
      );
    }
  } catch (error) {
    if (error instanceof InvalidPositionToken) {
      throw createGraphQLError(error.message, { extensions: { code: 'BAD_USER_INPUT', argument: 'consistency' } });
    }
    if (error instanceof ConsistencyTimeout) {
      throw createGraphQLError(error.message, {
        extensions: { code: 'CONSISTENCY_TIMEOUT', projections: error.projections, timeoutMs: error.timeoutMs },
      });
    }
    throw error;
  }
}

/** Records what a field reads and, with `consistency`, waits until it is fresh enough. */
export async function readFrom(
  ctx: GraphQLContext,
  projections: ProjectionName[],
  consistency: { atLeast: string; timeoutMs?: number | null } | null | undefined,
): Promise<void> {
  for (const p of projections) ctx.readModels.add(p);
  if (!consistency) return;
  const timeoutMs = timeoutOf(consistency.timeoutMs);
  const deadline = Date.now() + timeoutMs;
  await waitForPosition(ctx, projections, consistency.atLeast, timeoutMs);
  // Reached on the primary; a replica answers only once it has replayed the token too
  // (its checkpoint rows travel with the rows they cover), else the primary answers.
  if (!(await ctx.app.reads.reached(ctx.read, projections, decodePosition(consistency.atLeast), deadline))) {
    ctx.read = ctx.app.reads.primary;
  }
  // The request's loaders may hold rows read before the wait (another field of the same
  // request): everything read from here on must be at least as new as the token.
  ctx.loaders = createLoaders(ctx.read.pool);
}

/** After a command: with `consistency.waitFor`, wait for those projections to apply it. */
export async function afterCommand<R extends { position: string }>(
  ctx: GraphQLContext,
  consistency: { waitFor: ProjectionName[]; timeoutMs?: number | null } | null | undefined,
  result: R,
): Promise<R> {
  if (consistency?.waitFor.length) {
    try {
      await waitForPosition(ctx, consistency.waitFor, result.position, timeoutOf(consistency.timeoutMs));
    } catch (error) {
      // The command committed; say so, with its position, so the client can wait itself.
      if (error instanceof Error && 'extensions' in error) {
        Object.assign((error as { extensions: Record<string, unknown> }).extensions, {
          committed: true,
          position: result.position,
        });
      }
      throw error;
    }
  }
  return result;
}

/**
 * With replicas: which source the request read, and for a replica its replay lag and
 * its own position of each read model read (its checkpoint rows, not the primary's).
 */
async function sourceOf(ctx: GraphQLContext) {
  const replica = ctx.app.reads.statuses().find((r) => r.name === ctx.read.name);
  if (!replica) return { name: ctx.read.name };
  const positions = await ctx.app.reads.positionsOn(ctx.read, [...ctx.readModels]);
  return {
    name: replica.name,
    lagMs: replica.lagMs,
    positions: Object.fromEntries([...positions].map(([name, position]) => [name, encodePosition(position)])),
  };
}

/**
 * Adds `extensions.readModels`: position and lag of each read model the request read;
 * with replicas, `extensions.readSource` too (see sourceOf).
 */
export function useReadModelFreshness(): Plugin<GraphQLContext> {
  return {
    onExecute({ args }) {
      const ctx = args.contextValue as GraphQLContext;
      return {
        async onExecuteDone({ result, setResult }) {
          if (!ctx.readModels?.size || !ctx.app.watcher || Symbol.asyncIterator in (result as object)) return;
          const single = result as { extensions?: Record<string, unknown> };
          const readModels = await ctx.app.watcher.freshnessOf([...ctx.readModels]).catch(() => undefined);
          const readSource = ctx.app.reads.enabled ? await sourceOf(ctx).catch(() => undefined) : undefined;
          if (readModels || readSource) {
            const extensions = {
              ...single.extensions,
              ...(readModels && { readModels }),
              ...(readSource && { readSource }),
            };
            setResult({ ...single, extensions } as typeof result);
          }
        },
      };
    },
  };
}
