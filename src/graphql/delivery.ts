// The live delivery engine: every subscription of this API process goes through it.
//
// Groups. Subscribers of the same operation (document, operation name, variables) with
// the same read scope (role, and customer for customers) share one group: the first one
// subscribes for real, each change is executed and serialized once for the group, and
// an SSE frame is encoded once. Operations with an `after` argument (resume from a
// position) replay on their own: a group of one.
//
// Members. Each subscriber has a bounded queue in front of its socket. A change is
// written at once while the socket keeps up; while it does not (its buffer is over its
// mark), changes wait, compacted by key: the latest state of an order replaces a queued
// older one, so the queue holds at most one entry per order. A subscriber whose queue
// still outgrows its bound (LIVE_QUEUE_MAX_CHANGES / LIVE_QUEUE_MAX_BYTES) is ended with
// SLOW_CONSUMER, which carries the position to resume from (`after`): everything it was
// not sent comes back in the replay. A member never throws into its group or the bus:
// whatever fails ends that member alone.
//
// Transports. SSE frames are written straight to the HTTP response (server/http.ts
// hands its channel over in the context), honouring its backpressure. graphql-ws and
// any other transport pull results from the member's outlet (an async iterator that
// holds one result at a time), so their own backpressure (graphql-ws waits for each
// send) becomes the member's.
import type { ExecutionArgs, ExecutionResult } from 'graphql';
import { Kind, type OperationDefinitionNode, print, type ValueNode, visit } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { LiveLimits } from '../config.ts';
import type { Transport } from '../observability/metrics.ts';
import { comparePositions, decodePosition, encodePosition, type Position, positionBefore } from '../outbox/position.ts';
import type { GraphQLContext } from './context.ts';

/** What a subscription field's resolver tells the engine about the change it resolved. */
export interface LiveSlot {
  /** Compaction key: a queued change with the same key is replaced by the newer one. */
  key: string;
  /** The change's position token (a resume position), when it has one. */
  position?: string;
  /** When its batch committed (ms since the epoch): delivery latency. */
  committedAt?: number;
}

/** Bytes a subscriber's socket may hold unsent before its changes wait in its queue. */
export const SOCKET_BUFFER_BYTES = 256 * 1024;

/** One SSE `next` frame, encoded once per change for every subscriber. */
export interface SseFrame {
  raw(): Buffer;
  /** As an HTTP/1.1 chunk (size line, frame, CRLF). */
  chunked(): Buffer;
}

/** An SSE response the engine writes to directly (server/http.ts). */
export interface SseChannel {
  /** False: the response holds SOCKET_BUFFER_BYTES or more unsent; wait for `onDrain`. */
  write(frame: SseFrame): boolean;
  onDrain(callback: () => void): void;
  /** After SLOW_CONSUMER: a stalled client gets a moment to read its last frames, then is cut. */
  closeSoon(): void;
}

/** A graphql-ws operation: its socket and operation id (server/ws.ts). */
export interface WsTarget {
  socket: {
    send(data: string, callback?: (error?: Error) => void): void;
    readonly bufferedAmount: number;
    readonly readyState: number;
  };
  id: string;
}

interface Sink {
  /** False: wait for the drain callback before writing more. */
  write(change: Delivered): boolean;
  /** The last frame (an error), written whatever the buffer holds. */
  writeFinal(json: string, result: ExecutionResult): void;
  onDrain(callback: () => void): void;
  /** The member ended (its outlet completes). */
  ended(): void;
}

function sseFrame(json: string): SseFrame {
  let raw: Buffer | undefined;
  let chunked: Buffer | undefined;
  const frame: SseFrame = {
    raw: () => {
      raw ??= Buffer.from(`event: next\ndata: ${json}\n\n`);
      return raw;
    },
    chunked: () => {
      const body = frame.raw();
      chunked ??= Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')]);
      return chunked;
    },
  };
  return frame;
}

/** One executed change, shared by every member of its group. */
class Delivered {
  readonly json: string;
  /** `position`, decoded once for every member. */
  readonly at: Position | undefined;
  private sse: SseFrame | undefined;
  constructor(
    readonly result: ExecutionResult,
    readonly key: string,
    readonly position: string | undefined,
    readonly committedAt: number | undefined,
  ) {
    this.json = JSON.stringify(result);
    this.at = positionOf(position);
    // yoga's SSE and HTTP result processors use a result's own stringify: once per change.
    Object.defineProperty(result, 'stringify', { value: () => this.json, enumerable: false });
  }

  sseFrame(): SseFrame {
    this.sse ??= sseFrame(this.json);
    return this.sse;
  }
}

/** Results an outlet holds for a transport that pulls (a burst is not a slow consumer). */
const OUTLET_ITEMS = 64;

/**
 * The async iterator a transport reads a member from. It holds at most the results
 * handed over and not yet pulled; `offer` says whether the transport is keeping up.
 */
class Outlet implements AsyncIterableIterator<ExecutionResult> {
  private readonly items: ExecutionResult[] = [];
  private waiter: ((r: IteratorResult<ExecutionResult>) => void) | undefined;
  private failWaiter: ((error: unknown) => void) | undefined;
  private done = false;
  private failure: unknown;
  private drain: (() => void) | undefined;

  constructor(private readonly onReturn: () => void) {}

  offer(result: ExecutionResult): boolean {
    if (this.done) return true;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = this.failWaiter = undefined;
      waiter({ value: result, done: false });
      return true;
    }
    this.items.push(result);
    return this.items.length < OUTLET_ITEMS;
  }

  onDrain(callback: () => void): void {
    this.drain = callback;
  }

  /** Ends after the results already handed over (with `failure`: the transport gets it as an error). */
  finish(failure?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.failure = failure;
    if (this.waiter) {
      const [waiter, fail] = [this.waiter, this.failWaiter!];
      this.waiter = this.failWaiter = undefined;
      if (failure === undefined) waiter({ value: undefined, done: true });
      else fail(failure);
    }
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    const value = this.items.shift();
    if (value) {
      if (this.items.length < OUTLET_ITEMS && this.drain) {
        const drain = this.drain;
        this.drain = undefined;
        queueMicrotask(drain);
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.done) {
      return this.failure === undefined
        ? Promise.resolve({ value: undefined, done: true })
        : Promise.reject(this.failure);
    }
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.items.length = 0;
    this.finish();
    this.onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

function outletSink(outlet: Outlet): Sink {
  return {
    write: (change) => outlet.offer(change.result),
    writeFinal: (_json, result) => void outlet.offer(result),
    onDrain: (callback) => outlet.onDrain(callback),
    ended: () => {},
  };
}

function sseSink(channel: SseChannel): Sink {
  return {
    write: (change) => channel.write(change.sseFrame()),
    writeFinal: (json) => void channel.write(sseFrame(json)),
    onDrain: (callback) => channel.onDrain(callback),
    ended: () => channel.closeSoon(),
  };
}

/**
 * graphql-ws `next` messages written straight to the socket: the payload is the group's
 * one serialization; only the operation id differs per subscriber. graphql-ws itself
 * sends `complete` when the member's outlet ends, after these frames.
 */
function wsSink({ socket, id }: WsTarget): Sink {
  const OPEN = 1;
  const prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  let drain: (() => void) | undefined;
  const sent = () => {
    if (drain && socket.bufferedAmount < SOCKET_BUFFER_BYTES) {
      const callback = drain;
      drain = undefined;
      callback();
    }
  };
  const send = (json: string) => {
    if (socket.readyState === OPEN) socket.send(`${prefix}${json}}`, sent);
  };
  return {
    write: (change) => {
      send(change.json);
      return socket.bufferedAmount < SOCKET_BUFFER_BYTES;
    },
    writeFinal: (json) => send(json),
    onDrain: (callback) => {
      drain = callback;
      sent();
    },
    ended: () => {},
  };
}

function positionOf(token: string | undefined): Position | undefined {
  if (!token) return undefined;
  try {
    return decodePosition(token);
  } catch {
    return undefined;
  }
}

function earlier(a: Position | undefined, b: Position | undefined): Position | undefined {
  if (!a) return b;
  if (!b) return a;
  return comparePositions(a, b) < 0 ? a : b;
}

function later(a: Position | undefined, b: Position | undefined): Position | undefined {
  return earlier(a, b) === a ? b : a;
}

class Member {
  private readonly queue = new Map<string, Delivered>();
  private queuedBytes = 0;
  private blocked = false;
  done = false;
  /** The newest position written to the socket. */
  private written: Position | undefined;

  constructor(
    private readonly engine: LiveEngine,
    private readonly group: Group,
    readonly sink: Sink,
    readonly outlet: Outlet,
    readonly transport: Transport,
    readonly counted: string[],
  ) {}

  /** Never throws: a member that fails ends alone. */
  offer(change: Delivered): void {
    if (this.done) return;
    try {
      if (!this.blocked && this.queue.size === 0) {
        this.write(change);
        return;
      }
      const older = this.queue.get(change.key);
      if (older) {
        this.queue.delete(change.key);
        this.queuedBytes -= older.json.length;
      }
      this.queue.set(change.key, change);
      this.queuedBytes += change.json.length;
      this.engine.metrics?.liveQueueDepth.observe(this.queue.size);
      const { queueMaxChanges, queueMaxBytes } = this.engine.limits;
      if (this.queue.size > queueMaxChanges || this.queuedBytes > queueMaxBytes) this.slowConsumer();
    } catch (error) {
      this.end(error);
    }
  }

  private write(change: Delivered): void {
    const ok = this.sink.write(change);
    this.group.wrote(this.transport);
    if (change.at) this.written = later(this.written, change.at);
    if (!ok && !this.done) {
      this.blocked = true;
      this.sink.onDrain(() => this.drained());
    }
  }

  private drained(): void {
    if (this.done) return;
    this.blocked = false;
    try {
      while (!this.blocked && !this.done && this.queue.size) {
        const [key, change] = this.queue.entries().next().value!;
        this.queue.delete(key);
        this.queuedBytes -= change.json.length;
        this.write(change);
      }
    } catch (error) {
      this.end(error);
    }
  }

  /**
   * Where a resume loses nothing: before the oldest change still queued, and no later
   * than the newest one written (a replay after it brings every change not written).
   */
  resumeAfter(): string | null {
    let oldestQueued: Position | undefined;
    for (const change of this.queue.values()) oldestQueued = earlier(oldestQueued, change.at);
    const from = earlier(this.written, oldestQueued && positionBefore(oldestQueued));
    return from ? encodePosition(from) : null;
  }

  slowConsumer(): void {
    const resumeAfter = this.resumeAfter();
    const queued = this.queue.size;
    this.queue.clear();
    this.queuedBytes = 0;
    this.engine.metrics?.liveSlowConsumers.inc({ field: this.group.field, transport: this.transport });
    const error = createGraphQLError(
      'the subscriber fell too far behind: resubscribe with `after` set to extensions.resumeAfter to get every change it missed',
      { extensions: { code: 'SLOW_CONSUMER', resumeAfter, queued } },
    );
    const result: ExecutionResult = { errors: [error] };
    this.sink.writeFinal(JSON.stringify(result), result);
    this.end();
  }

  /** Ends the member (the transport completes it, or errors it with `failure`). */
  end(failure?: unknown): void {
    if (this.done) return;
    this.leave();
    this.outlet.finish(failure);
    this.sink.ended();
  }

  /** The transport let go (client left) or the member ended. */
  leave(): void {
    if (this.done) return;
    this.done = true;
    this.queue.clear();
    this.engine.release(this.counted);
    this.group.remove(this);
  }
}

class Group {
  readonly members = new Set<Member>();
  closed = false;
  private readonly writes: Record<Transport, number> = { http: 0, sse: 0, ws: 0 };
  private source: AsyncIterator<ExecutionResult> | undefined;
  private unique = 0;

  constructor(
    private readonly engine: LiveEngine,
    readonly key: string,
    readonly field: string,
    private readonly context: GraphQLContext,
  ) {}

  wrote(transport: Transport): void {
    this.writes[transport] += 1;
  }

  remove(member: Member): void {
    this.members.delete(member);
    if (this.members.size === 0) this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.engine.forget(this);
    void this.source?.return?.();
  }

  async pump(source: AsyncIterator<ExecutionResult>): Promise<void> {
    this.source = source;
    let failure: unknown;
    try {
      for (;;) {
        const next = await source.next();
        if (next.done || this.closed) break;
        const slot = this.context.live;
        this.context.live = undefined;
        this.unique += 1;
        const change = new Delivered(next.value, slot?.key ?? `#${this.unique}`, slot?.position, slot?.committedAt);
        for (const member of this.members) member.offer(change);
        this.count(change);
      }
    } catch (error) {
      failure = error;
    } finally {
      this.close();
      for (const member of [...this.members]) member.end(failure);
    }
  }

  private count(change: Delivered): void {
    const metrics = this.engine.metrics;
    if (!metrics) return;
    for (const transport of ['http', 'sse', 'ws'] as const) {
      const n = this.writes[transport];
      if (n) metrics.liveDeliveries.inc({ field: this.field, transport }, n);
      this.writes[transport] = 0;
    }
    if (change.committedAt !== undefined) {
      metrics.liveDeliveryLatency.observe({ field: this.field }, Math.max(0, Date.now() - change.committedAt) / 1000);
    }
  }
}

interface DocumentInfo {
  printed: string;
  /** The subscription's root field (metrics). */
  field: string;
  /** The values given to `after` arguments: a resume position (literal or variable). */
  after: ValueNode[];
}

/** Per document, per operation name (the root field depends on which operation runs). */
const documents = new WeakMap<object, Map<string, DocumentInfo | null>>();

function documentInfo(document: ExecutionArgs['document'], operationName?: string | null): DocumentInfo | null {
  let byOperation = documents.get(document);
  if (!byOperation) {
    byOperation = new Map();
    documents.set(document, byOperation);
  }
  let info = byOperation.get(operationName ?? '');
  if (info === undefined) {
    const after: ValueNode[] = [];
    visit(document, {
      Argument(node) {
        if (node.name.value === 'after') after.push(node.value);
      },
    });
    const operations = document.definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    );
    const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
    const first = operation?.selectionSet.selections[0];
    info =
      operation?.operation === 'subscription'
        ? { printed: print(document), field: first?.kind === Kind.FIELD ? first.name.value : 'other', after }
        : null;
    byOperation.set(operationName ?? '', info);
  }
  return info;
}

/** Whether an `after` argument carries a position (then the subscriber replays on its own). */
function resumes(info: DocumentInfo, variables: ExecutionArgs['variableValues']): boolean {
  return info.after.some((value) =>
    value.kind === Kind.VARIABLE ? (variables?.[value.name.value] ?? null) !== null : value.kind !== Kind.NULL,
  );
}

type EngineMetrics = NonNullable<GraphQLContext['app']['metrics']>;

function refused(message: string, limit: number) {
  return { errors: [createGraphQLError(message, { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit } })] };
}

/** Every engine of this process (one per GraphQL server), for liveStats. */
const engines = new Set<LiveEngine>();

/** Groups (shared ones apart) and members of every engine in this process (tests, ops). */
export function liveStats(): { groups: number; shared: number; members: number } {
  const total = { groups: 0, shared: 0, members: 0 };
  for (const engine of engines) {
    const s = engine.stats();
    total.groups += s.groups;
    total.shared += s.shared;
    total.members += s.members;
  }
  return total;
}

/** One per GraphQL server: its groups, its members and their limits. */
export class LiveEngine {
  private readonly groups = new Map<string, Group>();
  private readonly counts = new Map<string, number>();
  private solo = 0;
  metrics: EngineMetrics | undefined;

  constructor(readonly limits: LiveLimits) {
    engines.add(this);
  }

  stats(): { groups: number; members: number; shared: number } {
    let members = 0;
    let shared = 0;
    for (const g of this.groups.values()) {
      members += g.members.size;
      if (!g.key.startsWith('solo:')) shared += 1;
    }
    return { groups: this.groups.size, members, shared };
  }

  forget(group: Group): void {
    if (this.groups.get(group.key) === group) this.groups.delete(group.key);
    this.metrics?.liveGroups.set(this.groups.size);
  }

  release(counted: string[]): void {
    for (const key of counted) {
      const n = (this.counts.get(key) ?? 1) - 1;
      if (n > 0) this.counts.set(key, n);
      else this.counts.delete(key);
    }
  }

  /** The limit a new subscription would break, if any (counted keys otherwise). */
  private admit(ctx: GraphQLContext): { counted: string[] } | { refused: ExecutionResult } {
    const keys: [string, number, string][] = [];
    if (ctx.subject) {
      keys.push([
        `subject:${ctx.subject.role}:${ctx.subject.sub}`,
        this.limits.maxPerSubject,
        `at most ${this.limits.maxPerSubject} subscriptions per subject at once (LIVE_MAX_SUBSCRIPTIONS_PER_SUBJECT)`,
      ]);
    }
    if (ctx.connection) {
      keys.push([
        `connection:${connectionId(ctx.connection)}`,
        this.limits.maxPerConnection,
        `at most ${this.limits.maxPerConnection} subscriptions per connection at once (LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION)`,
      ]);
    }
    for (const [key, limit, message] of keys) {
      if ((this.counts.get(key) ?? 0) >= limit) {
        this.metrics?.liveRefused.inc({ code: 'TOO_MANY_SUBSCRIPTIONS' });
        return { refused: refused(message, limit) };
      }
    }
    for (const [key] of keys) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    return { counted: keys.map(([key]) => key) };
  }

  private groupKey(args: ExecutionArgs, info: DocumentInfo): string {
    const subject = (args.contextValue as GraphQLContext).subject;
    if (!subject || resumes(info, args.variableValues)) {
      this.solo += 1;
      return `solo:${this.solo}`;
    }
    return JSON.stringify([
      subject.role,
      subject.role === 'customer' ? (subject.customerId ?? subject.sub) : null,
      args.operationName ?? null,
      // No variables and `{}` are the same operation.
      args.variableValues && Object.keys(args.variableValues).length ? args.variableValues : null,
      info.printed,
    ]);
  }

  private join(group: Group, ctx: GraphQLContext, counted: string[]): Outlet {
    let member: Member | undefined;
    const outlet = new Outlet(() => member?.leave());
    const sink = ctx.transport === 'sse' && ctx.sse ? sseSink(ctx.sse) : ctx.ws ? wsSink(ctx.ws) : outletSink(outlet);
    member = new Member(this, group, sink, outlet, ctx.transport, counted);
    group.members.add(member);
    return outlet;
  }

  plugin(): Plugin<GraphQLContext> {
    return {
      onSubscribe: ({ args, subscribeFn, setSubscribeFn }) => {
        const info = documentInfo(args.document, args.operationName);
        if (!info) return;
        const ctx = args.contextValue as GraphQLContext;
        this.metrics ??= ctx.app.metrics;
        setSubscribeFn(async (subscribeArgs) => {
          const admitted = this.admit(ctx);
          if ('refused' in admitted) return admitted.refused;
          const key = this.groupKey(subscribeArgs, info);
          let joined = false;
          try {
            const existing = this.groups.get(key);
            if (existing && !existing.closed) {
              joined = true;
              return this.join(existing, ctx, admitted.counted);
            }
            const result = await subscribeFn(subscribeArgs);
            if (!(Symbol.asyncIterator in (result as object))) return result;
            const source = (result as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator]();
            // Another subscriber of this key may have set up its group while this one awaited.
            const raced = this.groups.get(key);
            if (raced && !raced.closed) {
              await source.return?.();
              joined = true;
              return this.join(raced, ctx, admitted.counted);
            }
            const group = new Group(this, key, info.field, ctx);
            this.groups.set(key, group);
            this.metrics?.liveGroups.set(this.groups.size);
            const outlet = this.join(group, ctx, admitted.counted);
            joined = true;
            void group.pump(source);
            return outlet;
          } finally {
            if (!joined) this.release(admitted.counted);
          }
        });
      },
    };
  }
}

const connectionIds = new WeakMap<object, number>();
let nextConnectionId = 0;

function connectionId(connection: object): number {
  let id = connectionIds.get(connection);
  if (id === undefined) {
    nextConnectionId += 1;
    id = nextConnectionId;
    connectionIds.set(connection, id);
  }
  return id;
}
