-- pgbench script: the createOrder transaction of the service, statement for statement (see bench/write.ts).
-- Ids derive from pgbench random numbers. No colon may precede a name inside a string literal here,
-- since pgbench would read it as a variable.
\set c random(1, :customers)
\set p1 random(1, :products)
\set p2 random(1, :products)
\set p3 random(1, :products)
\set o random(1, 281474976710655)
BEGIN;
SELECT false AS is_facts, request_hash, result, NULL::jsonb AS facts
  FROM command_begin(
         ARRAY['Customer' || ':' || 'c0000000-0000-4000-8000-' || lpad(:c::text, 12, '0'),
               'idempotency' || ':' || 'createOrder' || ':' || 'pgbench-' || :client_id::text || '-' || :o::bigint]::text[],
         'createOrder', 'pgbench-' || :client_id::text || '-' || :o::bigint)
UNION ALL
SELECT true, NULL, NULL, (
  SELECT jsonb_build_object(
           'customer', (SELECT jsonb_build_object('id', c.id, 'erased', c.erased_at IS NOT NULL)
                          FROM customers AS c WHERE c.id = ('c0000000-0000-4000-8000-' || lpad(:c::text, 12, '0'))::uuid),
           'products', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'sku', p.sku, 'name', p.name,
                                                                    'priceCents', p.price_cents)), '[]'::jsonb)
                          FROM products AS p
                         WHERE p.id = ANY(ARRAY[('d0000000-0000-4000-8000-' || lpad(:p1::text, 12, '0'))::uuid,
                                                ('d0000000-0000-4000-8000-' || lpad(:p2::text, 12, '0'))::uuid,
                                                ('d0000000-0000-4000-8000-' || lpad(:p3::text, 12, '0'))::uuid]))));
WITH lines AS (
       SELECT x.k::int AS line_no, p.id AS product_id, 1 + ((:o::bigint + x.k::int) % 3) AS quantity, p.price_cents
         FROM unnest(ARRAY[:p1::bigint, :p2::bigint, :p3::bigint]) WITH ORDINALITY AS x(pn, k)
         JOIN products AS p ON p.id = ('d0000000-0000-4000-8000-' || lpad(x.pn::text, 12, '0'))::uuid),
     created AS (
       INSERT INTO orders (id, customer_id, status, total_cents, version, created_at, updated_at)
       SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(:o::bigint), 12, '0'))::uuid, c.id, 'PENDING',
              (SELECT sum(quantity * price_cents) FROM lines), 1, now(), now()
         FROM customers AS c
        WHERE c.id = ('c0000000-0000-4000-8000-' || lpad(:c::text, 12, '0'))::uuid AND c.erased_at IS NULL
       RETURNING id)
INSERT INTO order_items (id, order_id, line_no, product_id, quantity, unit_price_cents)
SELECT gen_random_uuid(), created.id, l.line_no, l.product_id, l.quantity, l.price_cents FROM created, lines AS l;
WITH appended AS (
       INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, schema_version,
                           payload, actor, trace_context, actor_role)
       SELECT gen_random_uuid(), 'OrderCreated', 'Order', ('00000000-0000-4000-8000-' || lpad(to_hex(:o::bigint), 12, '0'))::uuid,
              1, 1,
              jsonb_build_object(
                'orderId', '00000000-0000-4000-8000-' || lpad(to_hex(:o::bigint), 12, '0'),
                'customerId', 'c0000000-0000-4000-8000-' || lpad(:c::text, 12, '0'),
                'items', (SELECT jsonb_agg(jsonb_build_object('lineNo', x.k, 'productId', p.id, 'sku', p.sku, 'name', p.name,
                                                              'quantity', 1 + ((:o::bigint + x.k::int) % 3),
                                                              'unitPriceCents', p.price_cents) ORDER BY x.k)
                            FROM unnest(ARRAY[:p1::bigint, :p2::bigint, :p3::bigint]) WITH ORDINALITY AS x(pn, k)
                            JOIN products AS p ON p.id = ('d0000000-0000-4000-8000-' || lpad(x.pn::text, 12, '0'))::uuid),
                'createdAt', now()),
              'pgbench', NULL, 'admin'
       RETURNING seq, tx_id, occurred_at),
     recorded AS (
       INSERT INTO idempotency_records (command, key, request_hash, result)
       SELECT 'createOrder', 'pgbench-' || :client_id::text || '-' || :o::bigint, md5(:o::text),
              jsonb_build_object('orderId', '00000000-0000-4000-8000-' || lpad(to_hex(:o::bigint), 12, '0'), 'version', 1,
                'position', rtrim(translate(encode(convert_to('p1:' || last.tx_id::text || ':' || last.seq::text, 'UTF8'),
                                                   'base64'), E'+/\n', '-_'), '='))
         FROM (SELECT tx_id, seq FROM appended ORDER BY seq DESC LIMIT 1) AS last)
SELECT seq::text AS seq, tx_id::text AS tx_id, occurred_at FROM appended;
COMMIT;
