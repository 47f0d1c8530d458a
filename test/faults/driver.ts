// The load driver: N clients writing continuously over HTTP to whichever API processes
// are alive, each keeping a client-side ledger of every command it sent and what came
// back. createOrder carries an idempotency key (a lost or UNAVAILABLE one is retried
// with the same key until acknowledged); order commands carry expectedVersion, so a
// retry can never apply twice.
import type { FaultCluster } from './cluster.ts';

export type Outcome = 'acked' | 'rejected' | 'unavailable' | 'lost' | 'unexpected';
export type Command = 'createOrder' | 'updateOrderStatus' | 'addOrderItem';

export interface LedgerEntry {
  client: number;
  command: Command;
  outcome: Outcome;
  /** createOrder's idempotency key. */
  key?: string;
  orderId?: string;
  expectedVersion?: number;
  /** The order version after the command (acknowledged). */
  version?: number;
  position?: string;
  /** The error (typename, code or message) of anything not acknowledged. */
  error?: string;
  at: number;
}

export interface Catalogue {
  customerIds: string[];
  productIds: string[];
}

const NEXT: Record<string, string[]> = {
  PENDING: ['CONFIRMED', 'CANCELLED'],
  CONFIRMED: ['SHIPPED', 'CANCELLED'],
  SHIPPED: ['DELIVERED'],
  DELIVERED: [],
  CANCELLED: [],
  // Unknown after an unacknowledged command: try, and learn from the typed error.
  UNKNOWN: ['CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED'],
};

const CREATE = `mutation Create($input: CreateOrderInput!) {
  createOrder(input: $input) {
    __typename
    ... on OrderPayload { position version order { id status } }
    ... on Error { message }
  }
}`;
const UPDATE = `mutation Update($input: UpdateOrderStatusInput!) {
  updateOrderStatus(input: $input) {
    __typename
    ... on OrderPayload { position version order { id status } }
    ... on ConcurrencyConflict { currentVersion }
    ... on InvalidTransition { from }
    ... on Error { message }
  }
}`;
const ADD = `mutation Add($input: AddOrderItemInput!) {
  addOrderItem(input: $input) {
    __typename
    ... on OrderPayload { position version order { id status } }
    ... on ConcurrencyConflict { currentVersion }
    ... on InvalidTransition { from }
    ... on Error { message }
  }
}`;

interface Payload {
  __typename: string;
  position?: string;
  version?: number;
  order?: { id: string; status: string };
  currentVersion?: number;
  from?: string;
  message?: string;
}

export interface Sent {
  outcome: Outcome;
  /** The mutation's result (acked: the payload; rejected: the typed error). */
  payload?: Payload;
  /** What failed otherwise. */
  error?: string;
}

/** One GraphQL request to a port; classifies what came back. */
export async function send(
  port: number,
  token: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<Sent> {
  let body: { data?: Record<string, Payload> | null; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(60_000),
    });
    body = (await response.json()) as typeof body;
  } catch (error) {
    // Refused, reset or cut mid-response: the client cannot know whether it applied.
    return { outcome: 'lost', error: (error as Error).cause ? String((error as Error).cause) : String(error) };
  }
  const error = body.errors?.[0];
  if (error) {
    const code = error.extensions?.code ?? 'NO_CODE';
    return code === 'UNAVAILABLE'
      ? { outcome: 'unavailable', error: code }
      : { outcome: 'unexpected', error: `${code}: ${error.message}` };
  }
  const payload = Object.values(body.data ?? {})[0];
  if (!payload) return { outcome: 'unexpected', error: 'no data' };
  return { outcome: payload.__typename === 'OrderPayload' ? 'acked' : 'rejected', payload };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class LoadDriver {
  readonly ledger: LedgerEntry[] = [];
  private running = false;
  private paused = false;
  private clients: Promise<void>[] = [];
  private idle = new Set<number>();
  private resumed: (() => void) | undefined;
  private resumeGate: Promise<void> = Promise.resolve();
  private serial = 0;
  /** Unacknowledged createOrder inputs by idempotency key (retried with the same key). */
  readonly pendingCreates = new Map<string, Record<string, unknown>>();

  constructor(
    private readonly cluster: FaultCluster,
    private readonly catalogue: Catalogue,
    private readonly clientCount: number,
    private readonly runId: string,
  ) {}

  get acknowledged(): number {
    return this.ledger.filter((e) => e.outcome === 'acked').length;
  }

  /** One admin subject per client: the API's per-subject mutation rate limit applies to each. */
  private tokens: string[] = [];

  async start(): Promise<void> {
    this.tokens = await Promise.all(
      Array.from({ length: this.clientCount }, (_, i) =>
        this.cluster.tokens.sign({ sub: `fault-client-${i}`, role: 'admin' }),
      ),
    );
    this.running = true;
    this.clients = Array.from({ length: this.clientCount }, (_, i) => this.client(i));
  }

  private token(client: number): string {
    return this.tokens[client] ?? this.cluster.adminToken;
  }

  /** Waits until every client has finished its request in flight and holds. */
  async pause(): Promise<void> {
    this.paused = true;
    this.resumeGate = new Promise((r) => {
      this.resumed = r;
    });
    while (this.idle.size < this.clientCount) await sleep(10);
  }

  resume(): void {
    this.paused = false;
    this.resumed?.();
  }

  /** Stops the clients, then retries every unacknowledged createOrder until it is acknowledged. */
  async stop(): Promise<void> {
    this.running = false;
    this.resume();
    await Promise.all(this.clients);
    for (const [key, input] of this.pendingCreates) {
      for (let attempt = 0; ; attempt++) {
        if (await this.create(-1, key, input)) break;
        if (attempt > 200) throw new Error(`createOrder ${key} never acknowledged`);
        await sleep(100);
      }
    }
  }

  private pickPort(client: number): number | undefined {
    const apis = this.cluster.liveApis();
    if (!apis.length) return undefined;
    return apis[(client + this.serial++) % apis.length]!.port;
  }

  private record(entry: Omit<LedgerEntry, 'at'>): void {
    this.ledger.push({ ...entry, at: Date.now() });
  }

  /** Sends one createOrder; true once acknowledged (or rejected: nothing to retry). */
  private async create(client: number, key: string, input: Record<string, unknown>): Promise<boolean> {
    const port = this.pickPort(client);
    if (port === undefined) return false;
    const sent = await send(port, this.token(client), CREATE, { input });
    if (sent.outcome === 'acked') {
      this.pendingCreates.delete(key);
      const p = sent.payload!;
      this.record({
        client,
        command: 'createOrder',
        outcome: 'acked',
        key,
        orderId: p.order!.id,
        version: p.version,
        position: p.position,
      });
      if (client >= 0) this.orders[client]!.set(p.order!.id, { version: p.version!, status: p.order!.status });
      return true;
    }
    if (sent.outcome === 'rejected') {
      this.pendingCreates.delete(key);
      this.record({ client, command: 'createOrder', outcome: 'rejected', key, error: sent.payload!.__typename });
      return true;
    }
    this.pendingCreates.set(key, input);
    this.record({ client, command: 'createOrder', outcome: sent.outcome, key, error: sent.error });
    return false;
  }

  /** Each client's own orders: only it changes them, so its expectedVersion is right unless a lost command applied. */
  private orders: Map<string, { version: number; status: string }>[] = [];

  private async client(client: number): Promise<void> {
    const mine = new Map<string, { version: number; status: string }>();
    this.orders[client] = mine;
    const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
    let n = 0;
    while (this.running) {
      if (this.paused) {
        this.idle.add(client);
        await this.resumeGate;
        this.idle.delete(client);
        continue;
      }
      n += 1;
      const active = [...mine].filter(([, o]) => NEXT[o.status]!.length);
      const roll = Math.random();
      if (this.pendingCreates.size && roll < 0.3) {
        const [key, input] = [...this.pendingCreates].find(([k]) => k.startsWith(`${this.runId}-c${client}-`)) ?? [];
        if (key && input) {
          if (!(await this.create(client, key, input))) await sleep(100);
          await sleep(10);
          continue;
        }
      }
      if (roll < 0.45 || active.length < 3) {
        const key = `${this.runId}-c${client}-${n}`;
        const input = {
          customerId: pick(this.catalogue.customerIds),
          idempotencyKey: key,
          items: Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => ({
            productId: pick(this.catalogue.productIds),
            quantity: 1 + Math.floor(Math.random() * 4),
          })),
        };
        if (!(await this.create(client, key, input))) await sleep(100);
      } else {
        const [orderId, order] = pick(active);
        const add = order.status === 'PENDING' && Math.random() < 0.4;
        const input = add
          ? { orderId, productId: pick(this.catalogue.productIds), quantity: 1, expectedVersion: order.version }
          : { orderId, status: pick(NEXT[order.status]!), expectedVersion: order.version };
        const command: Command = add ? 'addOrderItem' : 'updateOrderStatus';
        const port = this.pickPort(client);
        if (port === undefined) {
          await sleep(50);
          continue;
        }
        const sent = await send(port, this.token(client), add ? ADD : UPDATE, { input });
        const base = { client, command, orderId, expectedVersion: order.version };
        if (sent.outcome === 'acked') {
          const p = sent.payload!;
          mine.set(orderId, { version: p.version!, status: p.order!.status });
          this.record({ ...base, outcome: 'acked', version: p.version, position: p.position });
        } else if (sent.outcome === 'rejected') {
          const p = sent.payload!;
          if (p.__typename === 'ConcurrencyConflict')
            mine.set(orderId, { version: p.currentVersion!, status: 'UNKNOWN' });
          else if (p.__typename === 'InvalidTransition') mine.set(orderId, { ...order, status: p.from! });
          this.record({ ...base, outcome: 'rejected', error: p.__typename });
        } else {
          // Did it apply? The next command's expectedVersion finds out (ConcurrencyConflict).
          this.record({ ...base, outcome: sent.outcome, error: sent.error });
          await sleep(100);
        }
      }
      await sleep(5 + Math.random() * 20);
    }
  }

  /**
   * A probe command for recovery times: a createOrder (new key) retried until it is
   * acknowledged; returns its order id, position and when it was acknowledged.
   */
  async probe(): Promise<{ orderId: string; position: string; ackedAt: number }> {
    const key = `${this.runId}-probe-${this.serial++}`;
    const input = {
      customerId: this.catalogue.customerIds[0],
      idempotencyKey: key,
      items: [{ productId: this.catalogue.productIds[0], quantity: 1 }],
    };
    for (let attempt = 0; attempt < 600; attempt++) {
      const port = this.pickPort(0);
      if (port !== undefined) {
        const sent = await send(port, this.cluster.adminToken, CREATE, { input });
        if (sent.outcome === 'acked') {
          const p = sent.payload!;
          this.record({
            client: -1,
            command: 'createOrder',
            outcome: 'acked',
            key,
            orderId: p.order!.id,
            version: 1,
            position: p.position,
          });
          return { orderId: p.order!.id, position: p.position!, ackedAt: Date.now() };
        }
        this.record({
          client: -1,
          command: 'createOrder',
          outcome: sent.outcome,
          key,
          error: sent.outcome === 'rejected' ? sent.payload!.__typename : sent.error,
        });
        if (sent.outcome === 'rejected') throw new Error(`probe rejected: ${sent.payload!.__typename}`);
      }
      await sleep(50);
    }
    throw new Error('probe never acknowledged');
  }
}
