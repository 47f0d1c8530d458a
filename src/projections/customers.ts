// Each projection's private copy of customer names and emails (projection_customers),
// kept from Customer events. Updates are guarded by the customer version, so applying
// an event twice or late never moves a name backwards.
//
// A batch works on the copies in memory: CustomerCopies loads the rows its events touch
// (locked), applies each event with the customer-version guards
// (create only if absent, rename and erase only a newer version: last writer wins, so
// a rename applied inline ahead of an older one is never undone), answers what a
// projection copies into a new order at any point of the batch, and writes the copies
// back in one statement.

import type { Sql } from '../db/sql.ts';
import type { CustomerEvent } from '../events/customer.ts';
import type { StoredEvent } from '../outbox/append.ts';
import type { Position } from '../outbox/position.ts';

export interface CustomerFacts {
  name: string | null;
  email: string | null;
}

interface CustomerCopy extends CustomerFacts {
  version: number;
  erased: boolean;
}

/** What a batch's applied CustomerRenamed / CustomerErased events do to the customer's denormalized rows. */
export interface CustomerRewrite {
  customerId: string;
  /** The customer's name after the batch (null once erased). */
  name: string | null;
  /** An erasure was applied in the batch: the email is gone from every row. */
  erased: boolean;
  /** The email rows must carry from now on; undefined: leave theirs (a rename). */
  email?: string | null;
  /** Position of the last such event applied. */
  position: Position;
}

export function isCustomerEvent(e: StoredEvent): e is StoredEvent<CustomerEvent> {
  return e.aggregateType === 'Customer';
}

/** Ids compare as text: the same uuid must find the same entry however it was spelled. */
export const idKey = (id: string): string => id.toLowerCase();

export class CustomerCopies {
  private readonly copies = new Map<string, CustomerCopy | null>();
  private readonly changed = new Set<string>();
  private readonly rewrites = new Map<string, CustomerRewrite>();

  private constructor(private readonly projection: string) {}

  /**
   * Loads (and locks) the copies of the customers these events are about, or whose
   * orders they create.
   */
  static async load(sql: Sql, projection: string, events: StoredEvent[]): Promise<CustomerCopies> {
    const copies = new CustomerCopies(projection);
    const ids = new Set<string>();
    for (const e of events) {
      if (isCustomerEvent(e)) ids.add(idKey(e.event.data.customerId));
      else if (e.event.type === 'OrderCreated') ids.add(idKey(e.event.data.customerId));
    }
    if (!ids.size) return copies;
    for (const id of ids) copies.copies.set(id, null);
    const rows = await sql.query<CustomerCopy & { customer_id: string }>(
      `SELECT customer_id::text AS customer_id, name, email, version, erased FROM projection_customers
        WHERE projection = $1 AND customer_id = ANY($2::uuid[])
        ORDER BY customer_id FOR UPDATE`,
      [projection, [...ids]],
    );
    for (const row of rows) {
      copies.copies.set(idKey(row.customer_id), {
        name: row.name,
        email: row.email,
        version: Number(row.version),
        erased: row.erased,
      });
    }
    return copies;
  }

  /** Applies one customer event to the copy; true when it changed it (false: already applied, or out of date). */
  apply(e: StoredEvent<CustomerEvent>): boolean {
    const { event } = e;
    const id = idKey(event.data.customerId);
    const copy = this.copies.get(id) ?? null;
    switch (event.type) {
      case 'CustomerCreated': {
        if (copy) return false;
        const created = {
          name: event.data.name ?? null,
          email: event.data.email ?? null,
          version: e.aggregateVersion,
          erased: false,
        };
        this.copies.set(id, created);
        // Orders of this customer that some process applied before the customer (an
        // INLINE command while this projection's engine had not reached the creation)
        // carry no name: they get it now. Usually there are none.
        this.rewrite(id, e.position, { name: created.name, email: created.email });
        break;
      }
      case 'CustomerRenamed':
        if (!copy || copy.version >= e.aggregateVersion) return false;
        copy.name = event.data.name ?? null;
        copy.version = e.aggregateVersion;
        this.rewrite(id, e.position, { name: copy.name });
        break;
      case 'CustomerErased':
        if (!copy || copy.version >= e.aggregateVersion) return false;
        copy.name = null;
        copy.email = null;
        copy.erased = true;
        copy.version = e.aggregateVersion;
        this.rewrite(id, e.position, { name: null, email: null, erased: true });
        break;
    }
    this.changed.add(id);
    return true;
  }

  private rewrite(
    customerId: string,
    position: Position,
    change: { name: string | null; email?: string | null; erased?: boolean },
  ): void {
    const previous = this.rewrites.get(customerId);
    this.rewrites.set(customerId, {
      customerId,
      name: change.name,
      erased: (change.erased ?? false) || (previous?.erased ?? false),
      email: 'email' in change ? change.email : previous?.email,
      position,
    });
  }

  /** The customer's name and email as the copy holds them now (at this point of the batch). */
  facts(customerId: string): CustomerFacts {
    const copy = this.copies.get(idKey(customerId));
    return copy ? { name: copy.name, email: copy.email } : { name: null, email: null };
  }

  /** Customers created, renamed or erased in this batch: their rows elsewhere need the new facts. */
  get rewritten(): CustomerRewrite[] {
    return [...this.rewrites.values()];
  }

  /** Writes the changed copies back (one statement). */
  async save(sql: Sql): Promise<void> {
    if (!this.changed.size) return;
    const ids = [...this.changed];
    const copies = ids.map((id) => this.copies.get(id)!);
    await sql.execute(
      `INSERT INTO projection_customers (projection, customer_id, name, email, version, erased)
       SELECT $1, c.customer_id, c.name, c.email, c.version, c.erased
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::boolean[])
              AS c(customer_id, name, email, version, erased)
       ON CONFLICT (projection, customer_id) DO UPDATE
         SET name = EXCLUDED.name, email = EXCLUDED.email, version = EXCLUDED.version, erased = EXCLUDED.erased
         WHERE projection_customers.version < EXCLUDED.version`,
      [
        this.projection,
        ids,
        copies.map((c) => c.name),
        copies.map((c) => c.email),
        copies.map((c) => c.version),
        copies.map((c) => c.erased),
      ],
    );
  }
}
