// Load generator for the live benchmarks, run as a child process (so its memory and
// sockets are not the service's): opens one subscription per token it is sent, over
// SSE (graphql-sse distinct connections: POST with Accept: text/event-stream) or
// graphql-ws (one socket each), and records, per order id, when each subscriber
// received it (wall clock, ms, comparable across processes on one machine). With
// LIVE_STALLED=1 its subscribers stop reading once subscribed (the isolation row), and
// report at the end whether they were ended with SLOW_CONSUMER and a resume position.
// IPC: receives { tokens }, sends { connected, failed }; on 'report' sends
// { received, frames, stalled } and exits.
import { Agent, type IncomingMessage, request } from 'node:http';
import WebSocket from 'ws';

const port = Number(process.env.LIVE_PORT);
const transport = process.env.LIVE_TRANSPORT === 'ws' ? 'ws' : 'sse';
const body = process.env.LIVE_BODY ?? '';
const stalledMode = process.env.LIVE_STALLED === '1';
const BATCH = 250;

const now = () => performance.timeOrigin + performance.now();
const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
const received = new Map<string, number[]>();
let frames = 0;
let failed = 0;
const closers: (() => void)[] = [];
/** What a stalled subscriber reads once it reads again. */
const stalled: { resume: () => Promise<string[]> }[] = [];

function record(payload: string): void {
  const id = /"id":"([0-9a-f-]{36})"/.exec(payload)?.[1];
  if (!id) return;
  frames += 1;
  const times = received.get(id) ?? [];
  if (!times.length) received.set(id, times);
  times.push(Math.round(now() * 100) / 100);
}

/** Splits an SSE byte stream into `next` payloads. */
function sseParser(onPayload: (data: string) => void) {
  let buffer = '';
  return (chunk: Buffer) => {
    buffer += String(chunk);
    let at = buffer.indexOf('\n\n');
    while (at >= 0) {
      const frame = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      if (frame.startsWith('event: next')) onPayload(frame.slice(frame.indexOf('data: ') + 6));
      at = buffer.indexOf('\n\n');
    }
  };
}

function openSse(token: string): Promise<void> {
  return new Promise((resolve) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/graphql',
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    });
    req.on('response', (res: IncomingMessage) => {
      if (res.statusCode !== 200) failed += 1;
      if (stalledMode) {
        res.pause();
        const payloads: string[] = [];
        res.on(
          'data',
          sseParser((data) => payloads.push(data)),
        );
        stalled.push({
          resume: () =>
            new Promise((done) => {
              const finish = () => done(payloads);
              res.on('end', finish);
              res.on('close', finish);
              setTimeout(finish, 5000);
              res.resume();
            }),
        });
        resolve();
        return;
      }
      let first = true;
      const parse = sseParser(record);
      res.on('data', (chunk: Buffer) => {
        // The stream opens with a ping: from then on the subscription is set up server-side.
        if (first) {
          first = false;
          resolve();
        }
        parse(chunk);
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
    closers.push(() => req.destroy());
  });
}

function openWs(token: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws');
    const payloads: string[] = [];
    ws.on('error', () => {
      failed += 1;
      resolve();
    });
    ws.on('open', () =>
      ws.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } })),
    );
    ws.on('message', (raw) => {
      const text = String(raw);
      if (text.startsWith('{"type":"connection_ack"')) {
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: JSON.parse(body) }));
        // Subscribed once the server has read the message; a ping round trip shows it.
        ws.ping();
        return;
      }
      if (stalledMode) payloads.push(text);
      else record(text);
    });
    ws.on('pong', () => {
      if (stalledMode) {
        ws.pause();
        stalled.push({
          resume: () =>
            new Promise((done) => {
              ws.resume();
              setTimeout(() => done(payloads.map((p) => JSON.stringify(JSON.parse(p).payload ?? null))), 3000);
            }),
        });
      }
      resolve();
    });
    closers.push(() => ws.terminate());
  });
}

const tokens = await new Promise<string[]>((resolve) =>
  process.once('message', (m) => resolve((m as { tokens: string[] }).tokens)),
);
for (let opened = 0; opened < tokens.length; opened += BATCH) {
  const batch = tokens.slice(opened, opened + BATCH);
  await Promise.all(batch.map((token) => (transport === 'ws' ? openWs(token) : openSse(token))));
}
process.send?.({ connected: tokens.length - failed, failed });

process.on('message', async (message) => {
  if (message !== 'report') return;
  const ends = [];
  for (const s of stalled) {
    const payloads = await s.resume();
    const last = payloads.at(-1);
    const error = last ? (JSON.parse(last) as { errors?: { extensions?: Record<string, unknown> }[] }) : undefined;
    const extensions = error?.errors?.[0]?.extensions;
    ends.push({
      framesRead: payloads.length,
      code: extensions?.code ?? null,
      resumeAfter: extensions?.resumeAfter ?? null,
    });
  }
  for (const close of closers) close();
  agent.destroy();
  process.send?.({ received: Object.fromEntries(received), frames, stalled: ends }, () => process.exit(0));
});
