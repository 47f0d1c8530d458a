import { authorize } from '../../auth/policy.ts';
import { OUTBOX_CHANNEL } from '../../outbox/append.ts';
import type { HorizonHolder } from '../../outbox/sequencer.ts';
import { resumeCheckpoint } from '../../projections/checkpoints.ts';
import { PROJECTION_NAMES } from '../../projections/projection.ts';
import { pgSql } from '../../projections/sql.ts';
import {
  type OutboxStatus,
  outboxStatus,
  type ProjectionStatus,
  projectionStatuses,
} from '../../projections/status.ts';
import { Forbidden, NotFoundError } from '../../write/errors.ts';
import { requireAllowed } from '../authorization.ts';
import { builder } from '../builder.ts';
import { resultUnion } from './mutationResult.ts';

const ProjectionModeEnum = builder.enumType('ProjectionMode', {
  description: 'ASYNC: applied by the engine after commit (eventual). INLINE: applied in the command transaction.',
  values: ['ASYNC', 'INLINE'] as const,
});

const ProjectionStateEnum = builder.enumType('ProjectionState', {
  description: 'LIVE: following the outbox. REBUILDING: building a new version. STALLED: stopped on a failing event.',
  values: ['LIVE', 'REBUILDING', 'STALLED'] as const,
});

export const ProjectionNameEnum = builder.enumType('ProjectionName', { values: PROJECTION_NAMES });

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
    resolve: (_root, _args, ctx) => {
      requireAllowed(ctx, 'operateProjections');
      return projectionStatuses(ctx.app.pool, ctx.app.config);
    },
  }),
  outbox: t.field({
    description: 'Admin. The outbox head and what holds the read horizon back.',
    type: OutboxStatusRef,
    resolve: (_root, _args, ctx) => {
      requireAllowed(ctx, 'operateProjections');
      return outboxStatus(ctx.app.pool);
    },
  }),
}));

const ResumeProjectionInput = builder.inputType('ResumeProjectionInput', {
  fields: (t) => ({ name: t.field({ type: ProjectionNameEnum, required: true }) }),
});

builder.mutationField('resumeProjection', (t) =>
  t.field({
    description: 'Admin. Puts a STALLED projection back to LIVE; it retries the event it stopped on.',
    type: ProjectionStatusRef,
    errors: resultUnion('resumeProjection', [NotFoundError, Forbidden]),
    args: { input: t.arg({ type: ResumeProjectionInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      if (!ctx.subject) throw new Forbidden();
      authorize(ctx.subject, 'operateProjections');
      const sql = pgSql(ctx.app.pool);
      if (!(await resumeCheckpoint(sql, input.name))) {
        throw new NotFoundError('StalledProjection', input.name);
      }
      // Wakes engines in every process, not only this one.
      await sql.execute(`SELECT pg_notify('${OUTBOX_CHANNEL}', '')`);
      const status = (await projectionStatuses(ctx.app.pool, ctx.app.config)).find((p) => p.name === input.name);
      if (!status) throw new NotFoundError('Projection', input.name);
      return status;
    },
  }),
);
