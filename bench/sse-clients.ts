// Load generator for the fan-out benchmark, run as a child process (so its memory and
// sockets are not the service's): opens COUNT SSE subscriptions (graphql-sse, POST with
// Accept: text/event-stream) and records, per order id, when each subscriber received
// it (wall clock, ms, comparable across processes on one machine). Talks to its parent
// over IPC: sends { connected }, then on 'report' sends { received, frames } and exits.
import { Agent, request } from 'node:http';

const port = Number(process.env.SSE_PORT);
const token = process.env.SSE_TOKEN ?? '';
const count = Number(process.env.SSE_COUNT ?? 1);
const body = process.env.SSE_BODY ?? '';
const BATCH = 250;

const now = () => performance.timeOrigin + performance.now();
const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
const received = new Map<string, number[]>();
let frames = 0;
let failed = 0;
const streams: ReturnType<typeof request>[] = [];

function open(): Promise<void> {
  return new Promise((resolve) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/graphql',
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    });
    req.on('response', (res) => {
      if (res.statusCode !== 200) failed += 1;
      let buffer = '';
      let first = true;
      res.on('data', (chunk: Buffer) => {
        // The stream opens with a ping: from then on the subscription is set up server-side.
        if (first) {
          first = false;
          resolve();
        }
        buffer += String(chunk);
        let at = buffer.indexOf('\n\n');
        while (at >= 0) {
          const frame = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const id = /"id":"([0-9a-f-]{36})"/.exec(frame)?.[1];
          if (id) {
            frames += 1;
            const times = received.get(id) ?? [];
            if (!times.length) received.set(id, times);
            times.push(Math.round(now() * 100) / 100);
          }
          at = buffer.indexOf('\n\n');
        }
      });
      res.on('end', resolve);
      // A stream the service cuts (or that is destroyed at the end) ends the subscriber.
      res.on('error', () => resolve());
    });
    req.on('error', () => {
      failed += 1;
      resolve();
    });
    req.end(body);
    streams.push(req);
  });
}

for (let opened = 0; opened < count; opened += BATCH) {
  await Promise.all(Array.from({ length: Math.min(BATCH, count - opened) }, open));
}
process.send?.({ connected: count - failed, failed });

process.on('message', (message) => {
  if (message !== 'report') return;
  for (const s of streams) s.destroy();
  agent.destroy();
  process.send?.({ received: Object.fromEntries(received), frames }, () => process.exit(0));
});
