import type pg from 'pg';

export interface CustomerView {
  customerId: string;
  name: string | null;
  email: string | null;
  erased: boolean;
}

/** Customers as the order_list_view projection knows them (its projection_customers rows). */
export async function getCustomerById(pool: pg.Pool, customerId: string): Promise<CustomerView | null> {
  const { rows } = await pool.query<CustomerView>(
    `SELECT customer_id::text AS "customerId", name, email, erased FROM projection_customers
      WHERE projection = 'order_list_view' AND customer_id = $1::uuid`,
    [customerId],
  );
  return rows[0] ?? null;
}
