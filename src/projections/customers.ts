// Each projection's private copy of customer names and emails (projection_customers),
// kept from Customer events. Updates are guarded by the customer version, so applying
// an event twice or late never moves a name backwards.
import type { StoredEvent } from '../outbox/append.ts';
import type { CustomerEvent } from '../write/customer/events.ts';
import type { Sql } from './sql.ts';

export interface CustomerFacts {
  name: string | null;
  email: string | null;
}

export async function applyCustomerEvent(
  sql: Sql,
  projection: string,
  e: StoredEvent<CustomerEvent>,
): Promise<boolean> {
  const { event } = e;
  switch (event.type) {
    case 'CustomerCreated':
      return (
        (await sql.execute(
          `INSERT INTO projection_customers (projection, customer_id, name, email, version)
           VALUES ($1, $2::uuid, $3, $4, $5)
           ON CONFLICT (projection, customer_id) DO NOTHING`,
          [projection, event.data.customerId, event.data.name, event.data.email, e.aggregateVersion],
        )) > 0
      );
    case 'CustomerRenamed':
      return (
        (await sql.execute(
          `UPDATE projection_customers SET name = $3, version = $4
            WHERE projection = $1 AND customer_id = $2::uuid AND version < $4`,
          [projection, event.data.customerId, event.data.name, e.aggregateVersion],
        )) > 0
      );
    case 'CustomerErased':
      return (
        (await sql.execute(
          `UPDATE projection_customers SET name = NULL, email = NULL, erased = true, version = $3
            WHERE projection = $1 AND customer_id = $2::uuid AND version < $3`,
          [projection, event.data.customerId, e.aggregateVersion],
        )) > 0
      );
  }
}

export async function customerFacts(sql: Sql, projection: string, customerId: string): Promise<CustomerFacts> {
  const rows = await sql.query<CustomerFacts>(
    'SELECT name, email FROM projection_customers WHERE projection = $1 AND customer_id = $2::uuid',
    [projection, customerId],
  );
  return rows[0] ?? { name: null, email: null };
}

export function isCustomerEvent(e: StoredEvent): e is StoredEvent<CustomerEvent> {
  return e.aggregateType === 'Customer';
}
