// Live streams for subscriptions, fed by the bus. Each subscriber filters server-side
// (its customer scope, its status filter). orderListChanged can resume: it replays what
// changed after a position, then continues live, with no gap and no duplicate.
import { FixedBuffer, Repeater } from 'graphql-yoga';
import type pg from 'pg';
import {
  type Bus,
  CHANNELS,
  type ChangeMessage,
  type PositionMessage,
  type RebuildProgressMessage,
} from '../bus/bus.ts';
import { comparePositions, decodePosition, type Position } from '../outbox/position.ts';
import { ORDER_VIEW_COLUMNS, type OrderView, orderViewFromRow } from './orderList.ts';

export type ChangeKind = 'UPSERT' | 'REMOVE';

export interface OrderListChange {
  kind: ChangeKind;
  /** Position of this change: pass it as `after` to resume after it. */
  position: string;
  order: OrderView;
}

/** A subscriber that falls this far behind is ended with an error; it resumes from its last position. */
const MAX_BACKLOG = 10_000;

/** Every live stream's stop, so a shutting-down process can complete them all properly. */
const active = new Set<() => void>();

/** Ends every live stream: clients get a normal `complete`, then may reconnect elsewhere with their last position. */
export function completeAllStreams(): number {
  const n = active.size;
  for (const stop of active) stop();
  return n;
}

async function track(stop: ((value?: unknown) => void) & Promise<unknown>): Promise<void> {
  const end = () => stop();
  active.add(end);
  await stop;
  active.delete(end);
}

function positionOf(order: OrderView): Position {
  return { txId: BigInt(order.positionTxId), seq: BigInt(order.positionSeq) };
}

export function encodeRowPosition(order: OrderView): string {
  return Buffer.from(`p1:${order.positionTxId}:${order.positionSeq}`).toString('base64url');
}

export interface OrderListFilter {
  customerId: string | null;
  status: string | null;
  orderId?: string | null;
}

export function classify(order: OrderView, filter: OrderListFilter): ChangeKind | null {
  if (filter.customerId && order.customerId !== filter.customerId) return null;
  if (filter.orderId && order.orderId !== filter.orderId) return null;
  if (!filter.status || order.status === filter.status) return 'UPSERT';
  // It left the filtered list (or, in a replay, may have): tell the client to drop it.
  return order.previousStatus === filter.status || order.previousStatus === undefined ? 'REMOVE' : null;
}

async function replay(pool: pg.Pool, after: Position, filter: OrderListFilter): Promise<OrderView[]> {
  const params: unknown[] = [after.txId.toString(), after.seq.toString()];
  let scope = '';
  if (filter.customerId) {
    params.push(filter.customerId);
    scope += ` AND customer_id = $${params.length}::uuid`;
  }
  if (filter.orderId) {
    params.push(filter.orderId);
    scope += ` AND order_id = $${params.length}::uuid`;
  }
  const { rows } = await pool.query<OrderView>(
    `SELECT ${ORDER_VIEW_COLUMNS} FROM order_list_view
      WHERE (position_tx_id, position_seq) > ($1::xid8, $2::bigint) ${scope}
      ORDER BY order_list_view.position_tx_id, order_list_view.position_seq`,
    params,
  );
  return rows.map((r) => ({ ...r, previousStatus: undefined }));
}

/**
 * One per bus (process): follows order_list_view's batches through their position
 * messages, each naming where its batch started. When one does not start where the
 * previous one ended, a batch's changes were never published (its projector died
 * between commit and publish, or the bus dropped them): every stream re-reads from there.
 */
const gapWatchers = new WeakMap<Bus, { streams: Set<(after: Position) => void>; ready: Promise<unknown> }>();

function watchListGaps(bus: Bus, onGap: (after: Position) => void): { ready: Promise<unknown>; stop: () => void } {
  let watcher = gapWatchers.get(bus);
  if (!watcher) {
    const streams = new Set<(after: Position) => void>();
    let chainEnd: Position | null = null;
    const ready = bus.subscribe(CHANNELS.positions, (message) => {
      const m = message as PositionMessage;
      if (m.projection !== 'order_list_view' || !m.after) return;
      const after = decodePosition(m.after);
      const position = decodePosition(m.position);
      if (chainEnd && comparePositions(after, chainEnd) !== 0) {
        const from = comparePositions(after, chainEnd) < 0 ? after : chainEnd;
        for (const stream of streams) stream(from);
      }
      if (!chainEnd || comparePositions(position, chainEnd) > 0) chainEnd = position;
    });
    watcher = { streams, ready };
    gapWatchers.set(bus, watcher);
  }
  const { streams, ready } = watcher;
  streams.add(onGap);
  return { ready, stop: () => streams.delete(onGap) };
}

export function orderListChanges(
  pool: pg.Pool,
  bus: Bus,
  filter: OrderListFilter,
  after: string | null,
): Repeater<OrderListChange> {
  const from = after ? decodePosition(after) : null;
  return new Repeater<OrderListChange>(async (push, stop) => {
    // Newest position sent per order: a live change at or below it is already known.
    const sent = new Map<string, Position>();
    let buffered: ChangeMessage[] | null = from ? [] : null;
    // The newest position this stream has heard of, and where to re-read from after the
    // bus lost messages (Redis went away): every order changed since has a newer row.
    let highWater: Position | null = from;
    let missedAfter: Position | null = null;
    const emit = (order: OrderView) => {
      const position = positionOf(order);
      if (!highWater || comparePositions(position, highWater) > 0) highWater = position;
      const known = sent.get(order.orderId);
      if (known && comparePositions(known, position) >= 0) return;
      if (from && comparePositions(position, from) <= 0) return;
      const kind = classify(order, filter);
      sent.set(order.orderId, position);
      if (kind) push({ kind, position: encodeRowPosition(order), order }).catch((error) => stop(error));
    };
    const onMessage = (message: unknown) => {
      const m = message as ChangeMessage;
      if (m.projection !== 'order_list_view') return;
      if (buffered) buffered.push(m);
      else emit(orderViewFromRow(m.row));
    };
    const tracked = track(stop);
    // Re-reads fill a gap while changes keep arriving live; the per-order positions drop
    // whatever arrives twice.
    const reread = (after: Position) => {
      replay(pool, after, filter).then(
        (orders) => orders.forEach(emit),
        (error) => stop(error),
      );
    };
    const offConnection = bus.onConnectionChange?.((state) => {
      if (state === 'lost') {
        missedAfter ??= highWater;
        return;
      }
      const after = missedAfter;
      missedAfter = null;
      if (after) reread(after);
    });
    const gaps = watchListGaps(bus, reread);
    await gaps.ready;
    // Listen first, then read: whatever commits in between arrives live and is deduplicated.
    const unsubscribe = await bus.subscribe(CHANNELS.readModelChanges, onMessage);
    try {
      if (from) {
        for (const order of await replay(pool, from, filter)) emit(order);
        const pending = buffered ?? [];
        buffered = null;
        for (const m of pending) emit(orderViewFromRow(m.row));
      }
    } catch (error) {
      stop(error);
    }
    await tracked;
    offConnection?.();
    gaps.stop();
    unsubscribe();
  }, new FixedBuffer(MAX_BACKLOG));
}

export function projectionPositions(bus: Bus, names: string[] | null): Repeater<PositionMessage> {
  return new Repeater<PositionMessage>(async (push, stop) => {
    const tracked = track(stop);
    const unsubscribe = await bus.subscribe(CHANNELS.positions, (message) => {
      const m = message as PositionMessage;
      if (!names || names.includes(m.projection)) push(m).catch((error) => stop(error));
    });
    await tracked;
    unsubscribe();
  }, new FixedBuffer(MAX_BACKLOG));
}

export function rebuildProgress(bus: Bus, name: string): Repeater<RebuildProgressMessage> {
  return new Repeater<RebuildProgressMessage>(async (push, stop) => {
    const tracked = track(stop);
    const unsubscribe = await bus.subscribe(CHANNELS.rebuildProgress, (message) => {
      const m = message as RebuildProgressMessage;
      if (m.projection === name) push(m).catch((error) => stop(error));
    });
    await tracked;
    unsubscribe();
  }, new FixedBuffer(MAX_BACKLOG));
}
