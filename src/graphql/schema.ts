import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.ts';
import { instrumentMutations } from './observability.ts';
import './types/scalars.ts';
import './types/orderStatus.ts';
import './types/errors.ts';
import './types/customer.ts';
import './types/product.ts';
import './types/order.ts';
import './types/projection.ts';
import './types/parking.ts';
import './types/relay.ts';
import '../readModels/orderListView/graphql.ts';
import '../readModels/customerOrderHistory/graphql.ts';
import '../readModels/orderSearch/graphql.ts';
import '../readModels/orderAnalytics/graphql.ts';
import './types/subscriptions.ts';
import './types/audit.ts';

// Command latency by outcome is recorded around each built Mutation field.
export const schema = instrumentMutations(builder.toSchema({ sortSchema: true }));

export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
