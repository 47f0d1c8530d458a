// The authorization matrix, in one place: one rule per GraphQL operation (every
// query, mutation and subscription field) and role. The GraphQL layer enforces the
// role part for every root field before its resolver runs (graphql/policyPlugin.ts,
// through Pothos scope-auth); ownership ('own') is enforced with the resource's
// customer id by the command handlers (`authorize`) and the read resolvers
// (`ownerScope`), from the same table. A root field without a rule here fails the
// schema build.
import { Forbidden } from '../errors.ts';
import type { Subject, UserRole } from './subject.ts';

/** 'all': any resource; 'own': only the subject's own customer and its orders; 'none': never. */
export type Grant = 'all' | 'own' | 'none';
export type Rule = Readonly<Record<UserRole, Grant>>;

const EVERYONE: Rule = { admin: 'all', support: 'all', customer: 'all' };
const STAFF_OR_OWNER: Rule = { admin: 'all', support: 'all', customer: 'own' };
const STAFF: Rule = { admin: 'all', support: 'all', customer: 'none' };
const ADMIN_OR_OWNER: Rule = { admin: 'all', support: 'none', customer: 'own' };
const ADMIN: Rule = { admin: 'all', support: 'none', customer: 'none' };

export const POLICY = {
  Query: {
    order: STAFF_OR_OWNER,
    orders: STAFF_OR_OWNER,
    customerOrderHistory: STAFF_OR_OWNER,
    searchOrders: STAFF_OR_OWNER,
    autocomplete: STAFF_OR_OWNER,
    orderAnalytics: STAFF_OR_OWNER,
    customer: STAFF_OR_OWNER,
    products: EVERYONE,
    orderHistory: STAFF,
    projections: ADMIN,
    outbox: ADMIN,
    relays: STAFF,
    verifyProjection: ADMIN,
    parkedEvents: STAFF,
  },
  Mutation: {
    createCustomer: STAFF,
    renameCustomer: STAFF_OR_OWNER,
    eraseCustomer: ADMIN,
    createProduct: ADMIN,
    createOrder: ADMIN_OR_OWNER,
    addOrderItem: ADMIN_OR_OWNER,
    updateOrderStatus: STAFF,
    cancelOrder: STAFF_OR_OWNER,
    resumeProjection: ADMIN,
    rebuildProjection: ADMIN,
    retryParked: ADMIN,
    skipParked: ADMIN,
  },
  Subscription: {
    orderListChanged: STAFF_OR_OWNER,
    orderChanged: STAFF_OR_OWNER,
    projectionPositions: EVERYONE,
    rebuildProgress: ADMIN,
  },
} as const satisfies Record<'Query' | 'Mutation' | 'Subscription', Record<string, Rule>>;

export type RootType = keyof typeof POLICY;
export type Operation = {
  [R in RootType]: keyof (typeof POLICY)[R];
}[RootType];
/** Commands are the mutation fields. */
export type Action = keyof typeof POLICY.Mutation;

const RULES = new Map<string, Rule>(
  Object.values(POLICY).flatMap((fields) => Object.entries(fields) as [string, Rule][]),
);

/** The rule of a root field, e.g. ruleFor('Query', 'orders'); undefined when it has none. */
export function ruleFor(root: string, field: string): Rule | undefined {
  return (POLICY as Record<string, Record<string, Rule>>)[root]?.[field];
}

export function grantOf(subject: Subject, operation: Operation): Grant {
  return RULES.get(operation)?.[subject.role] ?? 'none';
}

export function isAllowed(subject: Subject, operation: Operation, ownerCustomerId?: string): boolean {
  const grant = grantOf(subject, operation);
  if (grant === 'all') return true;
  if (grant === 'own') return ownerCustomerId !== undefined && subject.customerId === ownerCustomerId;
  return false;
}

export function authorize(subject: Subject, operation: Operation, ownerCustomerId?: string): void {
  if (!isAllowed(subject, operation, ownerCustomerId)) {
    throw new Forbidden(
      `${subject.role} may not ${operation}${grantOf(subject, operation) === 'own' ? ' for another customer' : ''}`,
    );
  }
}

/**
 * For reads: which customer's data the subject may read. With grant 'all' the
 * requested customer (or null: everyone); with 'own' the subject's own customer, and
 * a request for another customer is Forbidden.
 */
export function ownerScope(
  subject: Subject,
  operation: Operation,
  requestedCustomerId: string | null | undefined,
): string | null {
  const grant = grantOf(subject, operation);
  if (grant === 'all') return requestedCustomerId ?? null;
  if (grant === 'own' && subject.customerId) {
    if (requestedCustomerId && requestedCustomerId !== subject.customerId) {
      throw new Forbidden(`${subject.role} may not ${operation} for another customer`);
    }
    return subject.customerId;
  }
  throw new Forbidden(`${subject.role} may not ${operation}`);
}
