// The outbox relays (relay/): where each is in the outbox, its lag and who runs it.
import { type RelayStatus, relayStatuses } from '../../relay/status.ts';
import { builder } from '../builder.ts';

const RelayStatusRef = builder.objectRef<RelayStatus>('RelayStatus').implement({
  description: 'An outbox relay to a message broker (NATS JetStream) and where it is in the outbox.',
  fields: (t) => ({
    name: t.exposeString('name'),
    position: t.exposeString('position', {
      description: 'Position token of the last event published and acknowledged.',
    }),
    lagEvents: t.exposeInt('lagEvents', { description: 'Committed events not yet published.' }),
    lagMs: t.exposeInt('lagMs', { description: 'Age of the oldest committed event not yet published, in ms.' }),
    eventsPublished: t.exposeFloat('eventsPublished', { description: 'Events published and checkpointed in total.' }),
    owner: t.exposeString('owner', {
      nullable: true,
      description: 'The projector process running the relay (null: none holds its lease, e.g. all stopped).',
    }),
    leaseExpiresAt: t.expose('leaseExpiresAt', { type: 'DateTime', nullable: true }),
    lastError: t.exposeString('lastError', {
      nullable: true,
      description: 'Why the last batch failed (broker unreachable, timeout); cleared when a batch succeeds.',
    }),
    lastErrorAt: t.expose('lastErrorAt', { type: 'DateTime', nullable: true }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('relays', (t) =>
  t.field({
    description:
      'Admin and support. Every outbox relay that has run against this database (empty when NATS_URL was never set): position, lag, owner, last error.',
    type: [RelayStatusRef],
    resolve: (_root, _args, ctx) => relayStatuses(ctx.app.pool),
  }),
);
