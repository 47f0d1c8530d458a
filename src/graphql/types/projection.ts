import type { RebuildProgressMessage } from '../../bus/bus.ts';
import { outboxPoolOf } from '../../db/pools.ts';
import { pgSql } from '../../db/sql.ts';
import { Forbidden, NotFoundError } from '../../errors.ts';
import { OUTBOX_CHANNEL } from '../../outbox/append.ts';
import type { HorizonHolder } from '../../outbox/reader.ts';
import { resumeCheckpoint } from '../../projections/checkpoints.ts';
import { PROJECTION_NAMES } from '../../projections/projection.ts';
import { shadowCheckpoint, startRebuild } from '../../projections/rebuild.ts';
import {
  type OutboxStatus,
  outboxStatus,
  type ProjectionStatus,
  projectionStatuses,
  type RebuildStatus,
} from '../../projections/status.ts';
import type { RowDifference, VerificationReport } from '../../projections/verify.ts';
import { rebuildProgress } from '../../readModels/orderListView/live.ts';
import { ALL_PROJECTIONS, verifyProjection } from '../../readModels/registry.ts';
import { builder } from '../builder.ts';
import { resultUnion } from './mutationResult.ts';

const ProjectionModeEnum = builder.enumType('ProjectionMode', {
  description: 'ASYNC: applied by the engine after commit (eventual). INLINE: applied in the command transaction.',
  values: ['ASYNC', 'INLINE'] as const,
});

export const ProjectionStateEnum = builder.enumType('ProjectionState', {
  description: 'LIVE: following the outbox. REBUILDING: building a new version. STALLED: stopped on a failing event.',
  values: ['LIVE', 'REBUILDING', 'STALLED'] as const,
});

export const ProjectionNameEnum = builder.enumType('ProjectionName', { values: PROJECTION_NAMES });

const RebuildStatusRef = builder.objectRef<RebuildStatus>('RebuildStatus').implement({
  fields: (t) => ({
    version: t.exposeInt('version'),
    reason: t.exposeString('reason'),
    processed: t.exposeFloat('processed', { description: 'Events applied to the shadow so far.' }),
    total: t.exposeFloat('total', { description: 'Events in the outbox when the rebuild started.' }),
    etaMs: t.exposeInt('etaMs', { nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    stalled: t.exposeBoolean('stalled', {
      description: 'The shadow stopped on a failure: resumeProjection retries it, rebuildProjection starts over.',
    }),
    lastError: t.exposeString('lastError', { nullable: true }),
  }),
});

const ProjectionStatusRef = builder.objectRef<ProjectionStatus>('ProjectionStatus').implement({
  description: 'One read model and where its projection is in the outbox.',
  fields: (t) => ({
    name: t.exposeString('name'),
    mode: t.field({ type: ProjectionModeEnum, resolve: (p) => p.mode }),
    state: t.field({ type: ProjectionStateEnum, resolve: (p) => p.state }),
    position: t.exposeString('position', { description: 'Position token of the last event applied.' }),
    lagEvents: t.exposeInt('lagEvents', { description: 'Committed events not yet applied.' }),
    lagMs: t.exposeInt('lagMs', { description: 'Age of the oldest committed event not yet applied, in ms.' }),
    lastError: t.exposeString('lastError', { nullable: true }),
    errorPosition: t.exposeString('errorPosition', { nullable: true, description: 'The event it failed on.' }),
    retries: t.exposeInt('retries'),
    eventsApplied: t.exposeFloat('eventsApplied'),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    version: t.exposeInt('version', { description: 'Version of the projection code that built the live read model.' }),
    parkedEvents: t.exposeInt('parkedEvents', { description: 'Events parked and not yet retried or skipped.' }),
    parkedAggregates: t.exposeInt('parkedAggregates', { description: 'Aggregates those parked events hold back.' }),
    unaccountedEvents: t.int({
      nullable: true,
      description:
        'The no-skip audit: outbox events at or below the checkpoint it did not account for (applied, not relevant or parked). 0 unless an event was skipped; null before the first audit.',
      resolve: (p) => p.audit?.unaccounted ?? null,
    }),
    auditedAt: t.field({ type: 'DateTime', nullable: true, resolve: (p) => p.audit?.auditedAt ?? null }),
    lastBatchAt: t.expose('lastBatchAt', { type: 'DateTime', nullable: true }),
    idleMs: t.exposeInt('idleMs', {
      description: 'While events wait: ms since the last batch or the oldest waiting event, whichever is shorter.',
    }),
    rebuild: t.field({
      type: RebuildStatusRef,
      nullable: true,
      description: 'The shadow rebuild in progress, if any (state REBUILDING).',
      resolve: (p) => p.rebuild,
    }),
  }),
});

const HorizonHolderRef = builder.objectRef<HorizonHolder>('HorizonHolder').implement({
  description:
    'The oldest running transaction that holds a transaction id. The engine cannot read past it; a long-open one shows here.',
  fields: (t) => ({
    pid: t.exposeInt('pid'),
    xactStart: t.expose('xactStart', { type: 'DateTime', nullable: true }),
    ageMs: t.exposeInt('ageMs'),
    state: t.exposeString('state', { nullable: true }),
    query: t.exposeString('query', { nullable: true }),
    applicationName: t.exposeString('applicationName', { nullable: true }),
  }),
});

const OutboxStatusRef = builder.objectRef<OutboxStatus>('OutboxStatus').implement({
  fields: (t) => ({
    head: t.exposeString('head', { nullable: true, description: 'Position of the newest committed event.' }),
    horizonHolders: t.field({
      type: [HorizonHolderRef],
      description: 'Oldest first; the first one holds the read horizon of every projection.',
      resolve: (o) => o.horizonHolders,
    }),
  }),
});

builder.queryFields((t) => ({
  projections: t.field({
    description: 'Admin. Every projection: mode, state, position, lag and last error.',
    type: [ProjectionStatusRef],
    resolve: (_root, _args, ctx) => projectionStatuses(ctx.app.pools, ctx.app.config),
  }),
  outbox: t.field({
    description: 'Admin. The outbox head and what holds the read horizon back.',
    type: OutboxStatusRef,
    resolve: (_root, _args, ctx) => outboxStatus(ctx.app.pool),
  }),
}));

const ResumeProjectionInput = builder.inputType('ResumeProjectionInput', {
  fields: (t) => ({ name: t.field({ type: ProjectionNameEnum, required: true }) }),
});

builder.mutationField('resumeProjection', (t) =>
  t.field({
    description:
      'Admin. Puts a STALLED projection (or its STALLED rebuild shadow) back to LIVE; it retries the event it stopped on.',
    type: ProjectionStatusRef,
    errors: resultUnion('resumeProjection', [NotFoundError, Forbidden]),
    args: { input: t.arg({ type: ResumeProjectionInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const sql = pgSql(ctx.app.pools.read);
      // The live projection, or its rebuild's shadow.
      const resumed =
        (await resumeCheckpoint(sql, input.name)) || (await resumeCheckpoint(sql, shadowCheckpoint(input.name)));
      if (!resumed) {
        throw new NotFoundError('StalledProjection', input.name);
      }
      // Wakes engines in every process, not only this one (they hear commits on the write database).
      await pgSql(ctx.app.pool).execute(`SELECT pg_notify('${OUTBOX_CHANNEL}', '')`);
      const status = (await projectionStatuses(ctx.app.pools, ctx.app.config)).find((p) => p.name === input.name);
      if (!status) throw new NotFoundError('Projection', input.name);
      return status;
    },
  }),
);

const RebuildProjectionInput = builder.inputType('RebuildProjectionInput', {
  fields: (t) => ({ name: t.field({ type: ProjectionNameEnum, required: true }) }),
});

builder.mutationField('rebuildProjection', (t) =>
  t.field({
    description:
      'Admin. Rebuilds the read model from position zero in shadow tables while the live one keeps serving, then swaps it in atomically. Follow it with rebuildProgress or projections.',
    type: ProjectionStatusRef,
    errors: resultUnion('rebuildProjection', [NotFoundError, Forbidden]),
    args: { input: t.arg({ type: RebuildProjectionInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      if (!ctx.subject) throw new Forbidden();
      const projection = ALL_PROJECTIONS.find((p) => p.name === input.name);
      if (!projection) throw new NotFoundError('Projection', input.name);
      const { pools } = ctx.app;
      await startRebuild(pools.read, projection, `requested by ${ctx.subject.sub}`, outboxPoolOf(pools));
      const status = (await projectionStatuses(ctx.app.pools, ctx.app.config)).find((p) => p.name === input.name);
      if (!status) throw new NotFoundError('Projection', input.name);
      return status;
    },
  }),
);

const FieldDifferenceRef = builder
  .objectRef<{ field: string; expected: unknown; actual: unknown }>('FieldDifference')
  .implement({
    fields: (t) => ({
      field: t.exposeString('field'),
      expected: t.string({ description: 'JSON.', resolve: (d) => JSON.stringify(d.expected) }),
      actual: t.string({ description: 'JSON.', resolve: (d) => JSON.stringify(d.actual) }),
    }),
  });

const DifferenceKindEnum = builder.enumType('DifferenceKind', { values: ['MISSING', 'EXTRA', 'DIFFERENT'] as const });

const RowDifferenceRef = builder.objectRef<RowDifference>('RowDifference').implement({
  fields: (t) => ({
    table: t.exposeString('table'),
    key: t.string({ description: 'The row key, as JSON.', resolve: (d) => JSON.stringify(d.key) }),
    kind: t.field({ type: DifferenceKindEnum, resolve: (d) => d.kind }),
    fields: t.field({ type: [FieldDifferenceRef], resolve: (d) => d.fields }),
  }),
});

export const VerificationRef = builder.objectRef<VerificationReport>('VerificationReport').implement({
  description: 'A read model compared with its recomputation from the write tables.',
  fields: (t) => ({
    projection: t.exposeString('projection'),
    rowsChecked: t.exposeInt('rowsChecked'),
    differences: t.field({ type: [RowDifferenceRef], description: 'At most 100.', resolve: (r) => r.differences }),
  }),
});

builder.queryField('verifyProjection', (t) =>
  t.field({
    description:
      'Admin. Recomputes the read model from the write tables and reports missing, extra and differing rows (by field). Reads only; writes go on. Differences may include events not yet applied: compare when lag is 0.',
    type: VerificationRef,
    args: { name: t.arg({ type: ProjectionNameEnum, required: true }) },
    resolve: (_root, { name }, ctx) =>
      verifyProjection(pgSql(ctx.app.pools.read), name, undefined, pgSql(ctx.app.pools.write)),
  }),
);

const RebuildProgressRef = builder.objectRef<RebuildProgressMessage>('RebuildProgress').implement({
  fields: (t) => ({
    projection: t.exposeString('projection'),
    processed: t.exposeFloat('processed'),
    total: t.exposeFloat('total'),
    etaMs: t.exposeInt('etaMs'),
    done: t.exposeBoolean('done', { description: 'True once the shadow has been swapped in.' }),
  }),
});

builder.subscriptionField('rebuildProgress', (t) =>
  t.field({
    description: 'Admin. Progress of a rebuild after each shadow batch, and a final message when it is swapped in.',
    type: RebuildProgressRef,
    args: { name: t.arg({ type: ProjectionNameEnum, required: true }) },
    subscribe: (_root, { name }, ctx) => rebuildProgress(ctx.app.bus, name),
    resolve: (m, _args, ctx) => {
      // A subscriber that is behind needs only the latest progress (the last one says done).
      ctx.live = { key: m.projection };
      return m;
    },
  }),
);
