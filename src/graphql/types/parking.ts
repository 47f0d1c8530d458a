// Parked events (projections/parking.ts): what a projection set aside, and the two
// ways out: retry (re-apply in order) and skip (give up, with a reason on record).
import { createGraphQLError } from 'graphql-yoga';
import { actorId } from '../../auth/subject.ts';
import { outboxPoolOf } from '../../db/pools.ts';
import { pgSql } from '../../db/sql.ts';
import { Forbidden, Issues, isUuid, NotFoundError, ValidationError } from '../../errors.ts';
import { OUTBOX_CHANNEL } from '../../outbox/append.ts';
import { encodePosition } from '../../outbox/position.ts';
import {
  listParked,
  type ParkedEvent,
  type Resolution,
  RetryFailed,
  resolveParked,
} from '../../projections/parking.ts';
import type { ProjectionName } from '../../projections/projection.ts';
import type { VerificationReport } from '../../projections/verify.ts';
import { ALL_PROJECTIONS } from '../../readModels/registry.ts';
import { builder } from '../builder.ts';
import type { GraphQLContext } from '../context.ts';
import { masked } from './audit.ts';
import { ErrorInterface } from './errors.ts';
import { resultUnion } from './mutationResult.ts';
import { ProjectionNameEnum, VerificationRef } from './projection.ts';

export const MAX_PARKED_PAGE = 1000;

const ParkedStateEnum = builder.enumType('ParkedState', {
  description:
    'PARKED: held back, with every later event of its aggregate. RETRIED: re-applied by retryParked. SKIPPED: given up by skipParked. REBUILT: applied by a rebuild that was swapped in.',
  values: ['PARKED', 'RETRIED', 'SKIPPED', 'REBUILT'] as const,
});

const ParkReasonEnum = builder.enumType('ParkReason', {
  description: 'FAILED: this event failed after its retries. BEHIND: an earlier event of its aggregate is parked.',
  values: ['FAILED', 'BEHIND'] as const,
});

const ParkedEventRef = builder.objectRef<ParkedEvent>('ParkedEvent').implement({
  description: 'An event one projection set aside instead of stopping for everyone.',
  fields: (t) => ({
    projection: t.exposeString('projection'),
    position: t.string({ resolve: (e) => encodePosition(e.position) }),
    aggregateType: t.exposeString('aggregateType'),
    aggregateId: t.exposeID('aggregateId'),
    aggregateVersion: t.exposeInt('aggregateVersion'),
    eventType: t.exposeString('eventType'),
    reason: t.field({ type: ParkReasonEnum, resolve: (e) => e.reason }),
    error: t.string({
      nullable: true,
      description: 'Why it failed (FAILED only; emails masked for support).',
      resolve: (e, _args, ctx) => (e.error === null ? null : masked(ctx.subject, e.error)),
    }),
    parkedAt: t.expose('parkedAt', { type: 'DateTime' }),
    state: t.field({ type: ParkedStateEnum, resolve: (e) => e.state }),
    resolvedAt: t.expose('resolvedAt', { type: 'DateTime', nullable: true }),
    resolvedBy: t.exposeString('resolvedBy', {
      nullable: true,
      description: 'Subject id of who retried or skipped it.',
    }),
    resolvedRole: t.exposeString('resolvedRole', { nullable: true }),
    resolutionReason: t.exposeString('resolutionReason', { nullable: true }),
    payload: t.string({
      nullable: true,
      description: 'The stored payload as JSON, as the outbox holds it (emails masked for support).',
      resolve: (e, _args, ctx) => (e.payload === undefined ? null : masked(ctx.subject, JSON.stringify(e.payload))),
    }),
  }),
});

builder.queryField('parkedEvents', (t) =>
  t.field({
    description: `Admin and support. A projection's parked events (or those resolved as \`state\`), oldest first, at most \`first\` (1 to ${MAX_PARKED_PAGE}).`,
    type: [ParkedEventRef],
    args: {
      projection: t.arg({ type: ProjectionNameEnum, required: true }),
      state: t.arg({ type: ParkedStateEnum, defaultValue: 'PARKED' }),
      first: t.arg.int({ defaultValue: 100 }),
    },
    resolve: (_root, args, ctx) => {
      const first = args.first ?? 100;
      if (!Number.isInteger(first) || first < 1 || first > MAX_PARKED_PAGE) {
        throw createGraphQLError(`first must be 1 to ${MAX_PARKED_PAGE}`, {
          extensions: { code: 'BAD_USER_INPUT', argument: 'first' },
        });
      }
      const outbox = outboxPoolOf(ctx.app.pools);
      return listParked(
        pgSql(ctx.app.pools.read),
        args.projection,
        args.state ?? 'PARKED',
        first,
        outbox && pgSql(outbox),
      );
    },
  }),
);

builder.objectType(RetryFailed, {
  name: 'ParkedRetryFailed',
  description: 'The parked events still fail: nothing was applied and they stay parked. `message` says why.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ projection: t.exposeString('projection'), aggregateId: t.exposeID('aggregateId') }),
});

const ParkedResolutionRef = builder.objectRef<Resolution>('ParkedResolution').implement({
  fields: (t) => ({
    projection: t.exposeString('projection'),
    aggregateType: t.exposeString('aggregateType'),
    aggregateId: t.exposeID('aggregateId'),
    events: t.field({
      type: [ParkedEventRef],
      description: 'The events resolved, oldest first.',
      resolve: (r) => r.events,
    }),
  }),
});

const ParkedAggregateInput = (name: string, withReason: boolean) =>
  builder.inputType(name, {
    fields: (t) => ({
      projection: t.field({ type: ProjectionNameEnum, required: true }),
      aggregateId: t.id({ required: true, description: 'The order (or customer) whose parked events to resolve.' }),
      ...(withReason
        ? {
            reason: t.string({
              required: true,
              description: 'Why they are given up (kept with them; 1 to 500 characters).',
            }),
          }
        : {}),
    }),
  });

const RetryParkedInput = ParkedAggregateInput('RetryParkedInput', false);
const SkipParkedInput = ParkedAggregateInput('SkipParkedInput', true);

async function resolveAggregate(
  ctx: GraphQLContext,
  input: { projection: ProjectionName; aggregateId: string | number; reason?: string | null },
  action: 'retry' | 'skip',
): Promise<Resolution> {
  if (!ctx.subject) throw new Forbidden();
  const aggregateId = String(input.aggregateId);
  const issues = new Issues();
  if (!isUuid(aggregateId)) issues.add(['input', 'aggregateId'], 'must be a UUID');
  const reason = input.reason?.trim() ?? null;
  if (action === 'skip' && (!reason || reason.length > 500)) {
    issues.add(['input', 'reason'], 'must say why, in 1 to 500 characters');
  }
  issues.throwIfAny();
  // The projection code of this process's engine when it runs one, else the registry's.
  const projection = (ctx.app.engine?.projections ?? ALL_PROJECTIONS).find((p) => p.name === input.projection);
  if (!projection) throw new NotFoundError('Projection', input.projection);
  const resolution = await resolveParked({
    pool: ctx.app.pools.read,
    outboxPool: outboxPoolOf(ctx.app.pools),
    bus: ctx.app.bus,
    log: ctx.app.log,
    projection,
    aggregateId,
    action,
    actor: actorId(ctx.subject),
    role: ctx.subject.role,
    reason,
  });
  if (!resolution) throw new NotFoundError('ParkedAggregate', aggregateId);
  // Wakes engines in every process: the aggregate's later events flow again.
  await pgSql(ctx.app.pool).execute(`SELECT pg_notify('${OUTBOX_CHANNEL}', '')`);
  return resolution;
}

builder.mutationField('retryParked', (t) =>
  t.field({
    description:
      'Admin. Re-applies the parked events of one aggregate for one projection, in order, and un-parks them if they all apply; otherwise nothing changes (ParkedRetryFailed). Fix the cause first.',
    type: ParkedResolutionRef,
    errors: resultUnion('retryParked', [ValidationError, NotFoundError, RetryFailed, Forbidden]),
    args: { input: t.arg({ type: RetryParkedInput, required: true }) },
    resolve: (_root, { input }, ctx) => resolveAggregate(ctx, input, 'retry'),
  }),
);

builder.mutationField('skipParked', (t) =>
  t.field({
    description:
      "Admin. Gives up the parked events of one aggregate for one projection: nothing is applied, the aggregate's later events apply on top, and the events keep who skipped them, when and why (parkedEvents with state SKIPPED).",
    type: ParkedResolutionRef,
    errors: resultUnion('skipParked', [ValidationError, NotFoundError, Forbidden]),
    args: { input: t.arg({ type: SkipParkedInput, required: true }) },
    resolve: (_root, { input }, ctx) => resolveAggregate(ctx, input, 'skip'),
  }),
);

const ParkedAggregateRef = builder.objectRef<VerificationReport['parked'][number]>('ParkedAggregate').implement({
  description: 'An aggregate with parked events, as verification saw it.',
  fields: (t) => ({
    aggregateType: t.exposeString('aggregateType'),
    aggregateId: t.exposeID('aggregateId'),
    events: t.exposeInt('events', { description: 'Its parked events.' }),
    differences: t.exposeInt('differences', {
      description: 'Rows keyed by it that differ (not listed in differences).',
    }),
  }),
});

builder.objectFields(VerificationRef, (t) => ({
  parked: t.field({
    type: [ParkedAggregateRef],
    description: 'Aggregates held back by parked events, reported apart from the differences.',
    resolve: (r) => r.parked,
  }),
}));
