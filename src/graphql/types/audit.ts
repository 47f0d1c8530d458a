// The audit trail: an order's events from the outbox with actor, time and type.
import { maskEmail } from '../../auth/masking.ts';
import type { Subject } from '../../auth/subject.ts';
import { isUuid } from '../../errors.ts';
import { type AuditEvent, aggregateHistory } from '../../outbox/audit.ts';
import { builder } from '../builder.ts';

/** Support sees email-like actors and email fields masked; admins see everything whole. */
export function masked(subject: Subject | null, value: string): string {
  return subject?.role === 'admin' ? value : value.replace(/[^\s"@]+@[^\s"@]+/g, (email) => maskEmail(email));
}

function maskPayload(subject: Subject | null, payload: Record<string, unknown>): Record<string, unknown> {
  if (subject?.role === 'admin') return payload;
  return Object.fromEntries(
    Object.entries(payload).map(([key, value]) => [
      key,
      typeof value === 'string' && /email/i.test(key) ? maskEmail(value) : value,
    ]),
  );
}

const AuditEventRef = builder.objectRef<AuditEvent>('AuditEvent').implement({
  description: 'One event of the audit trail, as the outbox recorded it in the command transaction.',
  fields: (t) => ({
    position: t.exposeString('position', { description: 'Its position in the outbox order.' }),
    type: t.exposeString('eventType', { description: 'E.g. OrderCreated, OrderStatusChanged.' }),
    version: t.exposeInt('aggregateVersion', { description: 'The order version this event produced.' }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
    actor: t.string({
      nullable: true,
      description:
        'The subject id of the token that ran the command: its `sub`, or `sha256:<16 hex digits>` when the `sub` is an email (events recorded before that rule may hold an email: masked for support). Null if unknown or erased.',
      resolve: (e, _args, ctx) => (e.actor === null ? null : masked(ctx.subject, e.actor)),
    }),
    actorRole: t.string({
      nullable: true,
      description:
        'The role of that token: `customer`, `support` or `admin`. Null for events recorded before roles were.',
      resolve: (e) => e.actorRole,
    }),
    payload: t.string({
      description: 'The event data as JSON (email fields masked for support).',
      resolve: (e, _args, ctx) => JSON.stringify(maskPayload(ctx.subject, e.payload)),
    }),
  }),
});

builder.queryField('orderHistory', (t) =>
  t.field({
    description:
      'Admin and support. The audit trail of an order: every event from the outbox, oldest first, with actor, time and type (at most 1,000).',
    type: [AuditEventRef],
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => {
      const id = String(args.id);
      return isUuid(id) ? aggregateHistory(ctx.app.pool, 'Order', id, 1000) : [];
    },
  }),
);
