// Typed errors: every mutation result is a union of its payload and these.
import {
  ConcurrencyConflict,
  Forbidden,
  InvalidTransition,
  NotFoundError,
  ValidationError,
  type ValidationIssue,
} from '../../errors.ts';
import { builder } from '../builder.ts';
import { OrderStatusEnum } from './orderStatus.ts';

export const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  description: 'Implemented by every typed error a mutation can return.',
  fields: (t) => ({ message: t.exposeString('message', { description: 'What went wrong, for people.' }) }),
});

const ValidationIssueRef = builder.objectRef<ValidationIssue>('ValidationIssue').implement({
  description: 'One broken rule, with the path of the input field that broke it.',
  fields: (t) => ({
    path: t.exposeStringList('path', { description: 'E.g. ["input", "items", "0", "quantity"].' }),
    message: t.exposeString('message'),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'The input broke one or more rules; nothing was changed.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ issues: t.field({ type: [ValidationIssueRef], resolve: (e) => e.issues }) }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  description: 'An id in the input names nothing; nothing was changed.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ entity: t.exposeString('entity'), id: t.exposeID('id') }),
});

builder.objectType(ConcurrencyConflict, {
  name: 'ConcurrencyConflict',
  description: 'expectedVersion is stale: someone changed the aggregate first. Reload and retry with currentVersion.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    aggregateId: t.exposeID('aggregateId'),
    expectedVersion: t.exposeInt('expectedVersion'),
    currentVersion: t.exposeInt('currentVersion'),
  }),
});

builder.objectType(InvalidTransition, {
  name: 'InvalidTransition',
  description: 'The order status machine does not allow this change; `allowed` lists where it can go from here.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    from: t.field({ type: OrderStatusEnum, resolve: (e) => e.from as never }),
    to: t.field({ type: OrderStatusEnum, resolve: (e) => e.to as never }),
    allowed: t.field({ type: [OrderStatusEnum], resolve: (e) => e.allowed as never }),
  }),
});

builder.objectType(Forbidden, {
  name: 'Forbidden',
  description: 'The token is valid but its role or customer may not do this.',
  interfaces: [ErrorInterface],
});

export const COMMAND_ERRORS = [ValidationError, NotFoundError, Forbidden];
export const ORDER_COMMAND_ERRORS = [...COMMAND_ERRORS, ConcurrencyConflict, InvalidTransition];
