// Upcasting: every stored event is read in its type's current shape (SCHEMA_VERSIONS),
// whatever version it was written at. UPCASTERS[type][v] is a pure function from a
// payload at version v to version v + 1; they compose (v1 → v2 → v3). The outbox reader
// applies them (outbox/reader.ts), so projections, replays and rebuilds, the audit trail
// and the NATS relay all see the current shape; rows stay as written (an event store is
// append-only; erasure scrubs personal fields in place, in any version).
//
// At start-up the outbox's distinct (type, version) pairs are checked (checkEventVersions):
// a version with no upcaster path to the current one, or one newer than this code,
// stops the process with the type and versions named, instead of failing mid-replay.
//
// Recipe for a backward-incompatible payload change: change the type in events/, bump
// its SCHEMA_VERSIONS entry, add UPCASTERS[type][old] turning an old payload into the new
// shape, update the code that writes and reads it (decide, handlers, projections), and
// test the upcaster on old rows (test/unit/upcasters.test.ts) and a replay of old rows
// against new ones (test/projections/upcasting.test.ts).
import type { DomainEvent } from './events.ts';
import { SCHEMA_VERSIONS } from './events.ts';
import { CURRENCY } from './order.ts';

type Payload = Record<string, unknown>;
export type Upcaster = (data: Payload) => Payload;

/** Version 1 of an order line carried `unitPriceCents`; version 2 `unitPrice: Money`. */
function lineV1toV2(line: unknown): Payload {
  const { unitPriceCents, ...rest } = line as Payload & { unitPriceCents: unknown };
  if (typeof unitPriceCents !== 'number') throw new Error('a line has no numeric unitPriceCents');
  return { ...rest, unitPrice: { amountCents: unitPriceCents, currency: CURRENCY } };
}

function totalV1toV2(data: Payload): Payload {
  const { totalCents, ...rest } = data as Payload & { totalCents: unknown };
  if (typeof totalCents !== 'number') throw new Error('no numeric totalCents');
  return { ...rest, total: { amountCents: totalCents, currency: CURRENCY } };
}

export const UPCASTERS: Partial<Record<DomainEvent['type'], Record<number, Upcaster>>> = {
  // Money from a number of cents to { amountCents, currency } (every version-1 price was in euros).
  OrderCreated: {
    1: (data) => {
      if (!Array.isArray(data.items)) throw new Error('no items');
      return totalV1toV2({ ...data, items: data.items.map(lineV1toV2) });
    },
  },
  OrderItemAdded: {
    1: (data) => totalV1toV2({ ...data, item: lineV1toV2(data.item) }),
  },
};

export class UpcastError extends Error {
  override name = 'UpcastError';
}

const isKnownType = (type: string): type is DomainEvent['type'] => Object.hasOwn(SCHEMA_VERSIONS, type);

/** Why `type` at `version` cannot be read in its current shape; undefined when it can. */
export function upcastProblem(type: string, version: number): string | undefined {
  if (!isKnownType(type)) return undefined;
  const current = SCHEMA_VERSIONS[type];
  if (!Number.isInteger(version) || version < 1) return `${type} has schema version ${version}, which is not a version`;
  if (version > current) {
    return `${type} version ${version} is newer than this code's version ${current} (written by a newer release?)`;
  }
  for (let v = version; v < current; v++) {
    if (!UPCASTERS[type]?.[v])
      return `${type} version ${version} has no upcaster from version ${v} to ${v + 1} (current: ${current})`;
  }
  return undefined;
}

/**
 * `data` of `type` at `version`, in the current shape. Types this code does not know
 * pass through as they are. Throws UpcastError when there is no path or an upcaster
 * rejects the payload.
 */
export function upcast(type: string, version: number, data: Payload): { data: Payload; version: number } {
  if (!isKnownType(type)) return { data, version };
  const problem = upcastProblem(type, version);
  if (problem) throw new UpcastError(problem);
  let value = data;
  for (let v = version; v < SCHEMA_VERSIONS[type]; v++) {
    try {
      value = UPCASTERS[type]![v]!(value);
    } catch (error) {
      throw new UpcastError(
        `${type} cannot be upcast from version ${v} to ${v + 1}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return { data: value, version: SCHEMA_VERSIONS[type] };
}
