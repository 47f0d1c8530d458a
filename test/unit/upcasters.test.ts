// Upcasters (src/events/upcasters.ts): a version-1 order payload (money as a number of
// cents) reads in the current shape (money as { amountCents, currency }); missing paths
// and newer versions are named; a payload an upcaster cannot take is an error, not data.
import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSIONS } from '../../src/events/events.ts';
import { UpcastError, upcast, upcastProblem } from '../../src/events/upcasters.ts';
import { HEADERS, headersOf } from '../../src/relay/message.ts';
import { line as eventLine, orderEvents } from '../support/events.ts';

const line = (lineNo: number, unitPriceCents: number) => ({
  lineNo,
  productId: `33333333-3333-4333-8333-${String(lineNo).padStart(12, '0')}`,
  sku: `SKU-${lineNo}`,
  productName: `Part ${lineNo}`,
  quantity: 2,
  unitPriceCents,
});

describe('upcasting stored events', () => {
  it('turns a version-1 OrderCreated and OrderItemAdded into the current shape', () => {
    const created = upcast('OrderCreated', 1, {
      orderId: 'o',
      customerId: 'c',
      items: [line(1, 250), line(2, 1200)],
      totalCents: 2900,
      createdAt: '2026-01-02T03:04:05.000Z',
    });
    expect(created).toEqual({
      version: SCHEMA_VERSIONS.OrderCreated,
      data: {
        orderId: 'o',
        customerId: 'c',
        items: [
          { ...line(1, 0), unitPriceCents: undefined, unitPrice: { amountCents: 250, currency: 'EUR' } },
          { ...line(2, 0), unitPriceCents: undefined, unitPrice: { amountCents: 1200, currency: 'EUR' } },
        ].map(({ unitPriceCents: _, ...rest }) => rest),
        total: { amountCents: 2900, currency: 'EUR' },
        createdAt: '2026-01-02T03:04:05.000Z',
      },
    });
    expect(upcast('OrderItemAdded', 1, { orderId: 'o', item: line(3, 99), totalCents: 3098 })).toEqual({
      version: 2,
      data: {
        orderId: 'o',
        item: {
          ...(({ unitPriceCents: _, ...rest }) => rest)(line(3, 99)),
          unitPrice: { amountCents: 99, currency: 'EUR' },
        },
        total: { amountCents: 3098, currency: 'EUR' },
      },
    });
  });

  it('leaves current versions and unknown event types as they are', () => {
    const current = { orderId: 'o', from: 'PENDING', to: 'CONFIRMED' };
    expect(upcast('OrderStatusChanged', 1, current)).toEqual({ version: 1, data: current });
    expect(upcast('SomethingElse', 7, { a: 1 })).toEqual({ version: 7, data: { a: 1 } });
  });

  it('names the type and versions of a stored version it cannot read', () => {
    expect(upcastProblem('OrderCreated', 1)).toBeUndefined();
    expect(upcastProblem('OrderCreated', 2)).toBeUndefined();
    expect(upcastProblem('OrderCreated', 3)).toBe(
      "OrderCreated version 3 is newer than this code's version 2 (written by a newer release?)",
    );
    expect(upcastProblem('CustomerRenamed', 0)).toBe('CustomerRenamed has schema version 0, which is not a version');
    expect(() => upcast('OrderCreated', 3, {})).toThrow(UpcastError);
  });

  it('refuses a version-1 payload that lacks what the upcaster needs', () => {
    expect(() => upcast('OrderCreated', 1, { orderId: 'o', items: [line(1, 250)] })).toThrow(
      'OrderCreated cannot be upcast from version 1 to 2: no numeric totalCents',
    );
    expect(() => upcast('OrderItemAdded', 1, { orderId: 'o', item: { lineNo: 1 }, totalCents: 1 })).toThrow(
      'a line has no numeric unitPriceCents',
    );
  });

  it('the relay publishes the current shape and names the stored version when it was older', () => {
    const event = orderEvents.created([eventLine(1)]);
    const upcastOne = headersOf({ ...event, storedSchemaVersion: 1 });
    expect(upcastOne.get(HEADERS.schemaVersion)).toBe(String(SCHEMA_VERSIONS.OrderCreated));
    expect(upcastOne.get(HEADERS.storedSchemaVersion)).toBe('1');
    const current = headersOf({ ...event, storedSchemaVersion: SCHEMA_VERSIONS.OrderCreated });
    expect(current.has(HEADERS.storedSchemaVersion)).toBe(false);
  });
});
