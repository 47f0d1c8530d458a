// The real HTTP front door (src/server/http.ts) on a loopback port, for what yoga.fetch
// does not reach: the body size limit and the request id scope.
import type { AddressInfo } from 'node:net';
import { createHttpServer } from '../../src/server/http.ts';
import type { TestApp } from './app.ts';

export interface TestHttpServer {
  /** The /graphql URL. */
  url: string;
  close(): Promise<void>;
}

export async function listen(t: TestApp): Promise<TestHttpServer> {
  const server = createHttpServer(t.app, { yoga: t.yoga, ready: async () => ({ ready: true, checks: {} }) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
