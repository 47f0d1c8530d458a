// Subscriptions: live order-list changes and projection positions, pushed only after
// the batch that made them committed (so a query can already see what arrives).
import { createGraphQLError } from 'graphql-yoga';
import type pg from 'pg';
import type { PositionMessage } from '../../bus/bus.ts';
import { isUuid } from '../../errors.ts';
import { InvalidPositionToken } from '../../outbox/position.ts';
import { createLoaders } from '../../read/loaders.ts';
import { OrderViewRef } from '../../readModels/orderListView/graphql.ts';
import { type OrderListChange, orderListChanges, projectionPositions } from '../../readModels/orderListView/live.ts';
import { builder } from '../builder.ts';
import type { GraphQLContext } from '../context.ts';
import type { LiveSlot } from '../delivery.ts';
import { readScope } from '../reads.ts';
import { OrderStatusEnum } from './orderStatus.ts';
import { ProjectionNameEnum, ProjectionStateEnum } from './projection.ts';

builder.subscriptionType({
  description: 'Live read-model changes over SSE (graphql-sse) or WebSocket (graphql-ws) at /graphql.',
});

const ChangeKindEnum = builder.enumType('ChangeKind', {
  description: 'UPSERT: add or replace the order in the list. REMOVE: it left the filtered list.',
  values: ['UPSERT', 'REMOVE'] as const,
});

const OrderListChangeRef = builder.objectRef<OrderListChange>('OrderListChange').implement({
  fields: (t) => ({
    kind: t.field({ type: ChangeKindEnum, resolve: (c) => c.kind }),
    position: t.exposeString('position', { description: 'Resume after this change with `after: position`.' }),
    order: t.field({ type: OrderViewRef, resolve: (c) => c.order }),
  }),
});

const ProjectionPositionRef = builder.objectRef<PositionMessage>('ProjectionPosition').implement({
  description: "A projection's committed checkpoint: every event up to `position` is in its read model.",
  fields: (t) => ({
    projection: t.exposeString('projection'),
    position: t.exposeString('position', {
      description: 'Only ever a committed checkpoint; for one projection it never moves backwards.',
    }),
    state: t.field({
      type: ProjectionStateEnum,
      description: 'STALLED: the projection stopped on the event at `errorPosition` (not applied).',
      resolve: (m) => m.state ?? 'LIVE',
    }),
    errorPosition: t.string({
      nullable: true,
      description: 'While STALLED: the position of the event it failed on.',
      resolve: (m) => m.errorPosition ?? null,
    }),
  }),
});

/** A change's compaction key (its order) and resume position, for the delivery engine. */
function liveSlot(change: OrderListChange): LiveSlot {
  return { key: change.order.orderId, position: change.position, committedAt: change.committedAt };
}

function badAfter(error: unknown): never {
  if (error instanceof InvalidPositionToken) {
    throw createGraphQLError(error.message, { extensions: { code: 'BAD_USER_INPUT', argument: 'after' } });
  }
  throw error;
}

/** Where a resume replays: the request's read replica first (most of it), then the primary (read/replicas.ts). */
function replayPools(ctx: GraphQLContext): pg.Pool[] {
  return ctx.read === ctx.app.reads.primary ? [ctx.app.pools.read] : [ctx.read.pool, ctx.app.pools.read];
}

builder.subscriptionFields((t) => ({
  orderListChanged: t.field({
    description:
      'Changes of the order list (customers: their own orders only). With `after`, first replays every order that changed after that position (latest state each), then continues live: no gap, no duplicate.',
    type: OrderListChangeRef,
    args: {
      customerId: t.arg.id(),
      status: t.arg({ type: OrderStatusEnum }),
      after: t.arg.string({ description: 'A position from a previous change (or a mutation).' }),
    },
    subscribe: (_root, args, ctx) => {
      const customerId = readScope(ctx.subject, 'orderListChanged', args.customerId ? String(args.customerId) : null);
      if (customerId && !isUuid(customerId)) {
        throw createGraphQLError('customerId is not an id', { extensions: { code: 'BAD_USER_INPUT' } });
      }
      try {
        return orderListChanges(
          replayPools(ctx),
          ctx.app.bus,
          { customerId, status: args.status ?? null },
          args.after ?? null,
        );
      } catch (error) {
        return badAfter(error);
      }
    },
    resolve: (change, _args, ctx) => {
      ctx.loaders = createLoaders(ctx.app.pools.read);
      ctx.live = liveSlot(change);
      return change;
    },
  }),
  orderChanged: t.field({
    description: 'The order, each time its view row changes.',
    type: OrderViewRef,
    args: { id: t.arg.id({ required: true }), after: t.arg.string() },
    subscribe: async (_root, args, ctx) => {
      const id = String(args.id);
      if (!isUuid(id)) throw createGraphQLError('id is not an id', { extensions: { code: 'BAD_USER_INPUT' } });
      let customerId = readScope(ctx.subject, 'orderChanged', null);
      if (customerId) {
        const order = await ctx.loaders.orderById.load(id);
        if (!order || order.customerId !== customerId) {
          throw createGraphQLError('a customer follows only its own orders', { extensions: { code: 'FORBIDDEN' } });
        }
      } else customerId = null;
      try {
        return orderListChanges(
          replayPools(ctx),
          ctx.app.bus,
          { customerId, status: null, orderId: id },
          args.after ?? null,
        );
      } catch (error) {
        return badAfter(error);
      }
    },
    resolve: (change, _args, ctx) => {
      // The subscription's context lives as long as it does: each delivered change reads
      // with loaders of its own, never what an earlier change cached.
      ctx.loaders = createLoaders(ctx.app.pools.read);
      ctx.live = liveSlot(change as unknown as OrderListChange);
      return (change as unknown as OrderListChange).order;
    },
  }),
  projectionPositions: t.field({
    description: 'Each projection position as it advances (after its batch committed).',
    type: ProjectionPositionRef,
    args: { names: t.arg({ type: [ProjectionNameEnum] }) },
    subscribe: (_root, args, ctx) => {
      if (!ctx.subject)
        throw createGraphQLError('a bearer token is required', { extensions: { code: 'UNAUTHENTICATED' } });
      return projectionPositions(ctx.app.bus, args.names ?? null);
    },
    resolve: (m, _args, ctx) => {
      // A subscriber that is behind needs only each projection's latest position.
      ctx.live = { key: m.projection };
      return m;
    },
  }),
}));
