// How one outbox event looks on NATS: its subject, headers and body. Pure; the relay,
// the replay command and the tests share it.
import { type MsgHdrs, headers as natsHeaders } from '@nats-io/nats-core';
import type { StoredEvent } from '../outbox/append.ts';
import { encodePosition } from '../outbox/position.ts';

/** Header names; `Nats-Msg-Id` (the event id) is set by the publish option msgID. */
export const HEADERS = {
  eventId: 'Parallax-Event-Id',
  eventType: 'Parallax-Event-Type',
  position: 'Parallax-Position',
  aggregateType: 'Parallax-Aggregate-Type',
  aggregateId: 'Parallax-Aggregate-Id',
  aggregateVersion: 'Parallax-Aggregate-Version',
  schemaVersion: 'Parallax-Schema-Version',
  storedSchemaVersion: 'Parallax-Stored-Schema-Version',
  occurredAt: 'Parallax-Occurred-At',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
} as const;

/** <prefix>.<aggregateType>.<aggregateId>.<eventType>: consumers filter by any of them. */
export function subjectOf(prefix: string, event: StoredEvent): string {
  return `${prefix}.${event.aggregateType}.${event.aggregateId}.${event.event.type}`;
}

export function headersOf(event: StoredEvent): MsgHdrs {
  const h = natsHeaders();
  h.set(HEADERS.eventId, event.eventId);
  h.set(HEADERS.eventType, event.event.type);
  h.set(HEADERS.position, encodePosition(event.position));
  h.set(HEADERS.aggregateType, event.aggregateType);
  h.set(HEADERS.aggregateId, event.aggregateId);
  h.set(HEADERS.aggregateVersion, String(event.aggregateVersion));
  // The body is in the current shape (upcast on read); a stored older version says so.
  h.set(HEADERS.schemaVersion, String(event.schemaVersion));
  if (event.storedSchemaVersion !== undefined && event.storedSchemaVersion !== event.schemaVersion) {
    h.set(HEADERS.storedSchemaVersion, String(event.storedSchemaVersion));
  }
  h.set(HEADERS.occurredAt, event.occurredAt.toISOString());
  // W3C trace context of the command that wrote the event: a consumer continues its trace.
  const traceparent = event.traceContext?.traceparent;
  if (traceparent) h.set(HEADERS.traceparent, traceparent);
  const tracestate = event.traceContext?.tracestate;
  if (tracestate) h.set(HEADERS.tracestate, tracestate);
  return h;
}

/** The body: the event's payload as JSON, as it is in the outbox (scrubbed if erased). */
export function bodyOf(event: StoredEvent): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(event.event.data));
}
