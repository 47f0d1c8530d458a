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
} from '../../bus/bus.ts';
import { comparePositions, decodePosition, type Position } from '../../outbox/position.ts';
import { type OrderView, orderViewColumns, orderViewFromRow } from './queries.ts';

export type ChangeKind = 'UPSERT' | 'REMOVE';

export interface OrderListChange {
  kind: ChangeKind;
  /** Position of this change: pass it as `after` to resume after it. */
  position: string;
  order: OrderView;
  /** When the batch that made it committed (ms since the epoch); absent for replayed rows. */
  committedAt?: number;
}

/** Rows a resume reads per statement: memory stays bounded whatever `after` is. */
export const REPLAY_PAGE_ROWS = 500;

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

function inScope(order: OrderView, filter: OrderListFilter): boolean {
  return (
    (!filter.customerId || order.customerId === filter.customerId) &&
    (!filter.orderId || order.orderId === filter.orderId)
  );
}

export function classify(order: OrderView, filter: OrderListFilter): ChangeKind | null {
  if (!inScope(order, filter)) return null;
  if (!filter.status || order.status === filter.status) return 'UPSERT';
  // It left the filtered list (or, in a replay, may have): tell the client to drop it.
  return order.previousStatus === filter.status || order.previousStatus === undefined ? 'REMOVE' : null;
}

const FIRST_ID = '00000000-0000-0000-0000-000000000000';
const LAST_ID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

/**
 * Rows of the list changed after `after`, up to order_list_view's checkpoint as read
 * first, handed to `emit` page by page (REPLAY_PAGE_ROWS each, keyset on the position):
 * memory stays bounded whatever `after` is. Bounding by the checkpoint leaves an INLINE
 * command's row whose position the checkpoint has not passed yet (a transaction with a
 * lower position may still commit) to the batch that passes it, so a client never holds
 * a position past a row it has not got. A row that changes while the pages are read
 * moves past the bound and arrives live (the stream listens before it replays).
 *
 * `pools` are read in turn, each up to its own checkpoint and from where the one before
 * stopped: a read replica first (most of a long replay), then the primary for what the
 * replica has not replayed yet. A replica's rows up to its checkpoint are the primary's
 * (the checkpoint row is replicated with the rows it covers), and the primary's
 * checkpoint bounds the whole replay as it does without a replica, so the seam with the
 * live stream is where it always was.
 */
async function replay(
  pools: readonly pg.Pool[],
  after: Position,
  filter: OrderListFilter,
  emit: (orders: OrderView[]) => void,
): Promise<void> {
  let cursor = { position: after, orderId: FIRST_ID };
  for (const pool of pools) {
    const { rows: checkpoint } = await pool.query<{ tx_id: string; seq: string }>(
      `SELECT tx_id::text AS tx_id, seq::text AS seq FROM projection_checkpoints WHERE name = 'order_list_view'`,
    );
    if (!checkpoint[0]) continue;
    const bound = { txId: BigInt(checkpoint[0].tx_id), seq: BigInt(checkpoint[0].seq) };
    if (comparePositions(bound, cursor.position) <= 0) continue;
    await replayPages(pool, cursor, bound, filter, emit);
    // Everything at or below the bound is sent; the next source goes on above it.
    cursor = { position: bound, orderId: LAST_ID };
  }
}

/** One source's pages: rows after `from` (position, then id) at or below `bound`. */
async function replayPages(
  pool: pg.Pool,
  from: { position: Position; orderId: string },
  bound: Position,
  filter: OrderListFilter,
  emit: (orders: OrderView[]) => void,
): Promise<void> {
  // A customer's rename moves all its rows to one position: the keyset carries the id too.
  const params: unknown[] = [null, null, null, bound.txId.toString(), bound.seq.toString()];
  let scope = '';
  if (filter.customerId) {
    params.push(filter.customerId);
    scope += ` AND customer_id = $${params.length}::uuid`;
  }
  if (filter.orderId) {
    params.push(filter.orderId);
    scope += ` AND order_id = $${params.length}::uuid`;
  }
  let cursor = from;
  for (;;) {
    params[0] = cursor.position.txId.toString();
    params[1] = cursor.position.seq.toString();
    params[2] = cursor.orderId;
    const { rows } = await pool.query<OrderView>(
      `SELECT ${orderViewColumns(pool)} FROM order_list_view
        WHERE (position_tx_id, position_seq, order_id) > ($1::xid8, $2::bigint, $3::uuid)
          AND (position_tx_id, position_seq) <= ($4::xid8, $5::bigint) ${scope}
        ORDER BY order_list_view.position_tx_id, order_list_view.position_seq, order_list_view.order_id
        LIMIT ${REPLAY_PAGE_ROWS}`,
      params,
    );
    if (!rows.length) return;
    emit(rows.map((r) => ({ ...r, previousStatus: undefined })));
    if (rows.length < REPLAY_PAGE_ROWS) return;
    const last = rows.at(-1)!;
    cursor = { position: positionOf(last), orderId: last.orderId };
  }
}

interface FeedListener {
  /** Which changes it is told of: index keys, so a change reaches only its listeners. */
  filter: OrderListFilter;
  /** A re-read from `after` must come before anything this listener is told later. */
  gap(after: Position): void;
  /** The changed rows of one batch that its filter's scope covers, in position order. */
  rows(orders: OrderView[], committedAt: number | undefined): void;
  /** gap or rows threw: the listener is removed and ends. */
  fail(error: unknown): void;
}

/** Batches whose changes arrived but whose position message did not, at most (then the gap re-read covers them). */
const MAX_PENDING_BATCHES = 1_000;

/** Listeners by the narrowest key of their filter: an order, a customer, or every order. */
class ListenerIndex {
  readonly all = new Set<FeedListener>();
  private readonly byOrder = new Map<string, Set<FeedListener>>();
  private readonly byCustomer = new Map<string, Set<FeedListener>>();
  private readonly broad = new Set<FeedListener>();

  private slot(filter: OrderListFilter): [Map<string, Set<FeedListener>>, string] | null {
    if (filter.orderId) return [this.byOrder, filter.orderId];
    if (filter.customerId) return [this.byCustomer, filter.customerId];
    return null;
  }

  add(listener: FeedListener): void {
    this.all.add(listener);
    const slot = this.slot(listener.filter);
    if (!slot) {
      this.broad.add(listener);
      return;
    }
    const [map, key] = slot;
    const set = map.get(key);
    if (set) set.add(listener);
    else map.set(key, new Set([listener]));
  }

  delete(listener: FeedListener): void {
    if (!this.all.delete(listener)) return;
    const slot = this.slot(listener.filter);
    if (!slot) {
      this.broad.delete(listener);
      return;
    }
    const [map, key] = slot;
    const set = map.get(key);
    set?.delete(listener);
    if (set?.size === 0) map.delete(key);
  }

  /** The rows of a batch per listener they concern: a lookup per row, never a scan of all listeners. */
  route(orders: OrderView[]): Map<FeedListener, OrderView[]> {
    const routed = new Map<FeedListener, OrderView[]>();
    const give = (listeners: Set<FeedListener> | undefined, order: OrderView) => {
      if (!listeners) return;
      for (const listener of listeners) {
        const list = routed.get(listener);
        if (list) list.push(order);
        else routed.set(listener, [order]);
      }
    };
    for (const order of orders) {
      give(this.broad, order);
      give(this.byCustomer.get(order.customerId), order);
      give(this.byOrder.get(order.orderId), order);
    }
    return routed;
  }
}

/**
 * One per bus (process): order_list_view's batches in chain order. A batch's changes are
 * held until its position message, which names where the batch started, arrives. When
 * a batch does not start where the previous one ended, one was never published (its
 * projector died between commit and publish, the bus dropped it) or is still on its way
 * (a lease handover: the new owner's batch overtook the old owner's publish). Either
 * way every listener re-reads from the chain's end before it hears of the later batch,
 * so no client can hold a position past rows it was never sent.
 */
class ListFeed {
  readonly listeners = new ListenerIndex();
  readonly ready: Promise<unknown>;
  private chainEnd: Position | null = null;
  private readonly pending = new Map<string, ChangeMessage[]>();

  constructor(bus: Bus) {
    this.ready = Promise.all([
      bus.subscribe(CHANNELS.readModelChanges, (message) => this.onChange(message as ChangeMessage)),
      bus.subscribe(CHANNELS.positions, (message) => this.onPosition(message as PositionMessage)),
    ]);
  }

  /** Runs in the bus's message handler: a listener that throws ends only itself. */
  private tell(listener: FeedListener, call: (listener: FeedListener) => void): void {
    try {
      call(listener);
    } catch (error) {
      this.listeners.delete(listener);
      listener.fail(error);
    }
  }

  private onChange(m: ChangeMessage): void {
    if (m.projection !== 'order_list_view') return;
    let batch = this.pending.get(m.position);
    if (!batch) {
      if (this.pending.size >= MAX_PENDING_BATCHES) this.pending.delete(this.pending.keys().next().value!);
      batch = [];
      this.pending.set(m.position, batch);
    }
    batch.push(m);
  }

  private onPosition(m: PositionMessage): void {
    if (m.projection !== 'order_list_view' || !m.after) return;
    const after = decodePosition(m.after);
    const position = decodePosition(m.position);
    const batch = this.pending.get(m.position) ?? [];
    this.pending.delete(m.position);
    if (this.chainEnd && comparePositions(after, this.chainEnd) !== 0) {
      const from = comparePositions(after, this.chainEnd) < 0 ? after : this.chainEnd;
      for (const listener of [...this.listeners.all]) this.tell(listener, (l) => l.gap(from));
    }
    if (batch.length) {
      const routed = this.listeners.route(batch.map((c) => orderViewFromRow(c.row)));
      for (const [listener, orders] of routed) this.tell(listener, (l) => l.rows(orders, m.committedAt));
    }
    if (!this.chainEnd || comparePositions(position, this.chainEnd) > 0) this.chainEnd = position;
    // Changes of batches at or below the chain's end whose position message was lost:
    // the re-read that the next batch's gap starts covers them.
    for (const key of this.pending.keys()) {
      if (comparePositions(decodePosition(key), this.chainEnd) <= 0) this.pending.delete(key);
    }
  }
}

const feeds = new WeakMap<Bus, ListFeed>();

/** Orders remembered by every live list stream of this process (their per-order positions). */
let remembered = 0;

/** What the live list streams hold: tests show it does not grow with foreign traffic. */
export function listStreamStats(): { rememberedOrders: number } {
  return { rememberedOrders: remembered };
}

function listFeed(bus: Bus): ListFeed {
  let feed = feeds.get(bus);
  if (!feed) {
    feed = new ListFeed(bus);
    feeds.set(bus, feed);
  }
  return feed;
}

export function orderListChanges(
  /** Where replays read, in turn (see replay): a read replica, then the primary. */
  pools: readonly pg.Pool[],
  bus: Bus,
  filter: OrderListFilter,
  after: string | null,
): Repeater<OrderListChange> {
  const from = after ? decodePosition(after) : null;
  return new Repeater<OrderListChange>(async (push, stop) => {
    // Newest position sent per order in this stream's scope: a live change at or below
    // it is already known. Only orders the stream's filter covers are remembered, so its
    // memory does not grow with other customers' traffic.
    const sent = new Map<string, Position>();
    // The newest position this stream has heard of, and where to re-read from after the
    // bus lost messages (Redis went away): every order changed since has a newer row.
    let highWater: Position | null = from;
    let missedAfter: Position | null = null;
    const emit = (order: OrderView, committedAt?: number) => {
      const position = positionOf(order);
      if (!highWater || comparePositions(position, highWater) > 0) highWater = position;
      // Out of the stream's scope (another customer, another order): not remembered.
      if (!inScope(order, filter)) return;
      const known = sent.get(order.orderId);
      if (known && comparePositions(known, position) >= 0) return;
      if (from && comparePositions(position, from) <= 0) return;
      if (!known) remembered += 1;
      sent.set(order.orderId, position);
      const kind = classify(order, filter);
      if (kind) push({ kind, position: encodeRowPosition(order), order, committedAt }).catch((error) => stop(error));
    };
    // Re-reads run one after another, and live rows that arrive meanwhile wait behind
    // them: what a client is sent stays in the order the feed decided. The per-order
    // positions drop whatever arrives twice.
    let queue: Promise<void> = Promise.resolve();
    let rereads = 0;
    const reread = (after: Position) => {
      rereads += 1;
      queue = queue
        .then(() =>
          replay(pools, after, filter, (orders) => {
            for (const o of orders) emit(o);
          }),
        )
        .catch((error) => stop(error))
        .finally(() => {
          rereads -= 1;
        });
    };
    const listener: FeedListener = {
      filter,
      gap: reread,
      fail: (error) => stop(error),
      rows: (orders, committedAt) => {
        if (rereads) {
          queue = queue.then(() => {
            for (const o of orders) emit(o, committedAt);
          });
        } else for (const o of orders) emit(o, committedAt);
      },
    };
    const tracked = track(stop);
    const offConnection = bus.onConnectionChange?.((state) => {
      if (state === 'lost') {
        missedAfter ??= highWater;
        return;
      }
      const after = missedAfter;
      missedAfter = null;
      if (after) reread(after);
    });
    const feed = listFeed(bus);
    await feed.ready;
    // Listen first, then read: whatever commits in between arrives live, after the replay.
    feed.listeners.add(listener);
    if (from) reread(from);
    await tracked;
    offConnection?.();
    feed.listeners.delete(listener);
    remembered -= sent.size;
  }, new FixedBuffer(MAX_BACKLOG));
}

/**
 * Pushes from a bus handler: a stream whose buffer is full (a push rejects, or throws
 * when too many are pending) ends alone; nothing is thrown into the bus.
 */
function offer<T>(push: (value: T) => Promise<unknown>, stop: (error?: unknown) => void, value: T): void {
  try {
    push(value).catch((error) => stop(error));
  } catch (error) {
    stop(error);
  }
}

export function projectionPositions(bus: Bus, names: string[] | null): Repeater<PositionMessage> {
  return new Repeater<PositionMessage>(async (push, stop) => {
    const tracked = track(stop);
    // Each projection's positions only move forward: a batch published late (its
    // projector lost the lease meanwhile) is older than what was already sent.
    const latest = new Map<string, Position>();
    const unsubscribe = await bus.subscribe(CHANNELS.positions, (message) => {
      const m = message as PositionMessage;
      if (names && !names.includes(m.projection)) return;
      const position = decodePosition(m.position);
      const known = latest.get(m.projection);
      if (m.state !== 'STALLED' && known && comparePositions(position, known) <= 0) return;
      latest.set(m.projection, position);
      offer(push, stop, m);
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
      if (m.projection === name) offer(push, stop, m);
    });
    await tracked;
    unsubscribe();
  }, new FixedBuffer(MAX_BACKLOG));
}
