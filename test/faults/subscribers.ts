// Subscribers that behave like careful clients: orderListChanged from a position, and
// when the stream breaks (its API process died, the database was away) they subscribe
// again, to any API process alive, after the last position they received.
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { ApiProcess, FaultCluster } from './cluster.ts';

export interface Change {
  kind: string;
  position: string;
  order: { id: string; status: string; version: number };
}

const QUERY = `subscription Changes($after: String) {
  orderListChanged(after: $after) { kind position order { id status version } }
}`;

export class ResumingSubscriber {
  readonly received: Change[] = [];
  private readonly seen = new Set<string>();
  readonly errors: unknown[] = [];
  /** Times it had to subscribe again, and when. */
  readonly resumes: number[] = [];
  api: ApiProcess | undefined;
  private last: string;
  private stopped = false;
  private cancel: (() => void) | undefined;

  constructor(
    private readonly cluster: FaultCluster,
    readonly transport: 'sse' | 'ws',
    from: string,
    private readonly prefer: number,
  ) {
    this.last = from;
  }

  start(): void {
    this.connect(this.prefer);
  }

  private connect(preferred: number): void {
    if (this.stopped) return;
    const apis = this.cluster.liveApis();
    if (!apis.length) {
      setTimeout(() => this.connect(preferred), 100);
      return;
    }
    const api = apis[preferred % apis.length]!;
    this.api = api;
    const url = `http://127.0.0.1:${api.port}/graphql`;
    let ended = false;
    const end = (error?: unknown) => {
      if (ended) return;
      ended = true;
      if (error !== undefined) this.errors.push(error);
      this.cancel?.();
      if (this.stopped) return;
      this.resumes.push(Date.now());
      // Elsewhere if this process is gone; the same one otherwise (e.g. the database was away).
      setTimeout(() => this.connect(preferred + 1), 100);
    };
    const sink = {
      next: (value: { data?: Record<string, unknown> | null; errors?: readonly unknown[] }) => {
        if (value.errors?.length) {
          end(value.errors);
          return;
        }
        const change = value.data?.orderListChanged as Change | undefined;
        if (!change) return;
        this.received.push(change);
        this.seen.add(change.order.id);
        this.last = change.position;
      },
      error: (error: unknown) => end(error),
      complete: () => end(),
    };
    const variables = { after: this.last };
    if (this.transport === 'ws') {
      const client = createWsClient({
        url: url.replace('http', 'ws'),
        webSocketImpl: WebSocket,
        connectionParams: { Authorization: `Bearer ${this.cluster.adminToken}` },
        retryAttempts: 0,
        lazy: true,
      });
      const unsubscribe = client.subscribe({ query: QUERY, variables }, sink);
      this.cancel = () => {
        unsubscribe();
        void client.dispose();
      };
    } else {
      const client = createSseClient({
        url,
        headers: { Authorization: `Bearer ${this.cluster.adminToken}` },
        retryAttempts: 0,
        singleConnection: false,
      });
      const unsubscribe = client.subscribe({ query: QUERY, variables }, sink);
      this.cancel = () => {
        unsubscribe();
        client.dispose();
      };
    }
  }

  has(orderId: string): boolean {
    return this.seen.has(orderId);
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }
}
