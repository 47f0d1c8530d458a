// GDPR erasure on the write side, inside the eraseCustomer transaction: everything the
// write side stores that holds the customer's name or email forgets it, so that no
// replay or rebuild of a read model can bring it back.
//
// - Outbox payloads: the fields PERSONAL_DATA names are set to null in the customer's
//   events and in its orders' events. Rows keep their position (tx_id, seq), type and
//   version: the projections' order and counts are unchanged. A projection replaying
//   them later sees a customer without a name, then CustomerErased.
// - Outbox actors: a subject that is one of the customer's emails or names, or the
//   hashed id (auth/subject.ts actorId) an email subject is recorded as, on those same
//   events, becomes null.
// - Idempotency records of the customer's orders (keys are the client's own text and
//   may carry anything): deleted. A retry of such a createOrder afterwards is refused
//   like any new order of an erased customer.
// - Projection error texts (projection_checkpoints.last_error, parked_events.error) and
//   operators' reasons for skipping parked events quoting a name or email: the quote is
//   replaced (scrubProjectionErrors). Those tables are the read database's: with one
//   database this is part of the transaction; with a separate read database
//   (READ_DATABASE_URL) it runs there before the commit and once more after it (see
//   eraseCustomer), since no transaction spans two databases.
// The read models (and each projection's projection_customers copy) forget the customer
// when they apply CustomerErased, which is later in the outbox order than any event that
// could still carry the name: a batch in flight with an old payload is overwritten.
import type pg from 'pg';
import { actorId } from '../../auth/subject.ts';
import type { TransactionClient } from '../../db/prisma.ts';
import { prismaSql, type Sql } from '../../db/sql.ts';
import { isUuid } from '../../errors.ts';
import { PERSONAL_DATA } from '../../events/events.ts';

export const ERASED_MARK = '[erased]';

/** Event type → its personal-data fields, only for types that have any. */
const FIELDS: Record<string, readonly string[]> = Object.fromEntries(
  Object.entries(PERSONAL_DATA).filter(([, fields]) => fields.length > 0),
);

// The customer's events and its orders' events ($1: customer id, $2: order ids).
const SCOPE = `((o.aggregate_type = 'Customer' AND o.aggregate_id = $1::uuid)
             OR (o.aggregate_type = 'Order' AND o.aggregate_id = ANY($2::uuid[])))`;

export interface ErasureSummary {
  /** Distinct names and emails found (current and past). */
  values: string[];
  events: number;
  actors: number;
  idempotencyRecords: number;
  projectionErrors: number;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Removes the customer's personal data from every write-side table except `customers`
 * (persist does that), and the projections' error texts quoting it: in this transaction,
 * or in `readDatabase` when the read models live in another database.
 */
export async function forgetCustomer(
  tx: TransactionClient,
  customerId: string,
  readDatabase?: Sql,
): Promise<ErasureSummary> {
  const orders = await tx.$queryRawUnsafe<{ id: string }[]>(
    'SELECT id::text AS id FROM orders WHERE customer_id = $1::uuid',
    customerId,
  );
  const orderIds = orders.map((o) => o.id);
  const fields = JSON.stringify(FIELDS);

  // Every name and email the customer ever had: the customers row holds only the latest.
  const found = await tx.$queryRawUnsafe<{ value: string }[]>(
    `SELECT DISTINCT v AS value FROM (
       SELECT name AS v FROM customers WHERE id = $1::uuid
       UNION ALL SELECT email FROM customers WHERE id = $1::uuid
       UNION ALL SELECT p.value FROM outbox o CROSS JOIN LATERAL jsonb_each_text(o.payload) AS p
                  WHERE ${SCOPE} AND ($3::jsonb -> o.event_type) ? p.key
     ) AS s
     WHERE v IS NOT NULL AND v <> ''`,
    customerId,
    orderIds,
    fields,
  );
  const values = found.map((r) => r.value);

  const events = await tx.$executeRawUnsafe(
    `UPDATE outbox AS o
        SET payload = o.payload || (SELECT jsonb_object_agg(f, 'null'::jsonb)
                                      FROM jsonb_array_elements_text($3::jsonb -> o.event_type) AS f)
      WHERE ${SCOPE}
        AND EXISTS (SELECT 1 FROM jsonb_array_elements_text($3::jsonb -> o.event_type) AS f
                     WHERE coalesce(o.payload -> f, 'null'::jsonb) <> 'null'::jsonb)`,
    customerId,
    orderIds,
    fields,
  );

  const lowered = values.map((v) => v.toLowerCase());
  const emails = lowered.filter((v) => v.includes('@'));
  // A token whose `sub` was one of these emails is recorded by its hash: that goes too.
  const hashed = [...new Set(values.filter((v) => v.includes('@')).flatMap((v) => [v, v.toLowerCase()]))].map((v) =>
    actorId({ sub: v, role: 'customer' }),
  );
  // Names only as the whole subject (a short name would match half the subjects);
  // emails also inside one (e.g. "oidc|ada@example.com").
  const actors = values.length
    ? await tx.$executeRawUnsafe(
        `UPDATE outbox AS o SET actor = NULL
          WHERE ${SCOPE} AND o.actor IS NOT NULL
            AND (lower(o.actor) = ANY($3::text[]) OR EXISTS (SELECT 1 FROM unnest($4::text[]) AS e
                                                              WHERE strpos(lower(o.actor), e) > 0))`,
        customerId,
        orderIds,
        [...lowered, ...hashed],
        emails,
      )
    : 0;

  // createOrder keys are scoped "<customerId>:<client key>"; results name the order.
  const idempotencyRecords = await tx.$executeRawUnsafe(
    `DELETE FROM idempotency_records
      WHERE starts_with(key, $1 || ':') OR result ->> 'customerId' = $1 OR result ->> 'orderId' = ANY($2::text[])`,
    customerId,
    orderIds,
  );

  const projectionErrors = await scrubProjectionErrors(readDatabase ?? prismaSql(tx), values);
  return { values, events, actors, idempotencyRecords, projectionErrors };
}

/**
 * Replaces every quote of `values` (names, emails) in the projections' error texts:
 * checkpoint errors, parked events' errors and skip reasons. Returns the rows changed.
 */
export async function scrubProjectionErrors(sql: Sql, values: readonly string[]): Promise<number> {
  if (!values.length) return 0;
  const lowered = values.map((v) => v.toLowerCase());
  let projectionErrors = 0;
  // Longest first, so an email is replaced whole before a name inside it.
  const sorted = [...values].sort((a, b) => b.length - a.length);
  const quoted = new RegExp(sorted.map(escapeRegExp).join('|'), 'gi');
  // Matches a text (lowered) containing any of the values in $1, taken literally.
  const quotesAnyValue = `LIKE ANY (
        SELECT '%' || replace(replace(replace(v, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%' FROM unnest($1::text[]) AS v)`;
  const errors = await sql.query<{ name: string; last_error: string }>(
    `SELECT name, last_error FROM projection_checkpoints
      WHERE last_error IS NOT NULL AND lower(last_error) ${quotesAnyValue}`,
    [lowered],
  );
  for (const row of errors) {
    projectionErrors += await sql.execute(
      'UPDATE projection_checkpoints SET last_error = $2 WHERE name = $1 AND last_error = $3',
      [row.name, row.last_error.replace(quoted, ERASED_MARK), row.last_error],
    );
  }
  const parked = await sql.query<{
    projection: string;
    tx_id: string;
    seq: string;
    error: string | null;
    resolution_reason: string | null;
  }>(
    `SELECT projection, tx_id::text AS tx_id, seq::text AS seq, error, resolution_reason FROM parked_events
      WHERE lower(coalesce(error, '') || ' ' || coalesce(resolution_reason, '')) ${quotesAnyValue}`,
    [lowered],
  );
  for (const row of parked) {
    projectionErrors += await sql.execute(
      `UPDATE parked_events SET error = $4, resolution_reason = $5
        WHERE projection = $1 AND tx_id = $2::xid8 AND seq = $3::bigint`,
      [
        row.projection,
        row.tx_id,
        row.seq,
        row.error?.replace(quoted, ERASED_MARK) ?? null,
        row.resolution_reason?.replace(quoted, ERASED_MARK) ?? null,
      ],
    );
  }
  return projectionErrors;
}

/** The customers among `customerIds` that are erased (write model), e.g. to hold back their queued messages. */
export async function erasedAmong(pool: pg.Pool, customerIds: string[]): Promise<Set<string>> {
  const { rows } = await pool.query<{ id: string }>(
    'SELECT id::text AS id FROM customers WHERE id = ANY($1::uuid[]) AND erased_at IS NOT NULL',
    [customerIds.filter(isUuid)],
  );
  return new Set(rows.map((r) => r.id));
}
