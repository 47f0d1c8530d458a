// What web pages may do with the API. A bearer token is no cookie, so a browser never
// sends one by itself; what a hostile page could take is what this server hands out:
// GraphiQL's page (in development it carries an admin token) and any answer its CORS
// headers let another origin read. So:
// - CORS is an explicit allow-list (CORS_ORIGINS); unset, no other origin may read
//   anything, and no response says `access-control-allow-credentials`.
// - GraphiQL is served only to same-origin requests (a navigation typed in the address
//   bar, a same-origin fetch), never with CORS headers, with a content security policy
//   that runs only its own inline scripts and connects only to this origin, and with
//   Cross-Origin-Resource-Policy and frame-ancestors that keep other sites from
//   embedding it.
import { createHash } from 'node:crypto';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/** Yoga renders GraphiQL for a GET that accepts HTML. */
export function isGraphiQLRequest(request: Request): boolean {
  return request.method === 'GET' && (request.headers.get('accept') ?? '').includes('text/html');
}

/**
 * True for a request a page of this origin (or the user, typing the address) made.
 * Browsers say so in Sec-Fetch-Site; older ones only send Origin on cross-origin
 * requests. A request with neither (curl, a script) is no web page's.
 */
export function isSameOrigin(request: Request): boolean {
  const site = request.headers.get('sec-fetch-site');
  if (site) return site === 'same-origin' || site === 'none';
  const origin = request.headers.get('origin');
  if (origin === null) return true;
  try {
    return new URL(origin).host === new URL(request.url).host;
  } catch {
    return false;
  }
}

const ALLOWED_HEADERS = ['authorization', 'content-type', 'accept', 'x-request-id', 'traceparent', 'tracestate'];

/** Yoga's CORS options for one request: only an allowed origin gets headers, and only its own. */
export function corsFor(allowed: readonly string[], request: Request) {
  const origin = request.headers.get('origin');
  if (!origin || !allowed.includes(origin)) return false as const;
  return {
    origin: [origin],
    methods: ['GET', 'POST'],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: ['x-request-id'],
    // Tokens travel in Authorization, never in cookies.
    credentials: false,
    maxAge: 600,
  };
}

export interface GraphiQLPage {
  render(options: unknown): Promise<string>;
  /** The policy for the last rendered page (its inline scripts by hash). */
  securityHeaders(): Record<string, string>;
}

const INLINE_SCRIPT = /<script>([\s\S]*?)<\/script>/g;

/** GraphiQL's renderer (its module inlines every asset: ~30 MB of strings once loaded). */
export type GraphiQLRenderer = (options: never) => string;

/**
 * Renders GraphiQL once per server (its options do not change), loading its renderer
 * only then: a process that never serves the page never holds it. Derives its
 * content security policy: the page's own inline scripts, by their SHA-256, and
 * nothing else; Monaco's workers from blob: URLs the page makes; styles inline (the
 * editor creates style elements at run time); connections to this origin only.
 */
export function graphiqlPage(load: () => Promise<GraphiQLRenderer>): GraphiQLPage {
  let page: { html: string; headers: Record<string, string> } | undefined;
  return {
    async render(options) {
      if (!page) {
        const html = (await load())(options as never);
        const hashes = [...html.matchAll(INLINE_SCRIPT)].map(
          (m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`,
        );
        page = {
          html,
          headers: {
            'content-security-policy': [
              "default-src 'none'",
              `script-src ${hashes.join(' ')} blob:`,
              "worker-src 'self' blob:",
              "style-src 'self' 'unsafe-inline'",
              "font-src 'self' data:",
              "img-src 'self' data:",
              "connect-src 'self'",
              "base-uri 'none'",
              "form-action 'none'",
              "frame-ancestors 'none'",
            ].join('; '),
            'cross-origin-resource-policy': 'same-origin',
            'cross-origin-opener-policy': 'same-origin',
            'x-frame-options': 'DENY',
            'x-content-type-options': 'nosniff',
            'referrer-policy': 'no-referrer',
            'cache-control': 'no-store',
          },
        };
      }
      return page.html;
    },
    securityHeaders() {
      return page?.headers ?? {};
    },
  };
}

/**
 * Refuses GraphiQL to other origins (403, nothing of the page), gives every HTML
 * answer the page's security headers and no CORS header, and every answer `Vary: Origin`.
 */
export function useGraphiQLGuard(page: GraphiQLPage): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (!isGraphiQLRequest(request) || isSameOrigin(request)) return;
      const error = createGraphQLError('GraphiQL is served only to pages of this origin', {
        extensions: { code: 'FORBIDDEN' },
      });
      endResponse(
        new fetchAPI.Response(JSON.stringify({ errors: [error.toJSON()] }), {
          status: 403,
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'cross-origin-resource-policy': 'same-origin',
            vary: 'Origin, Sec-Fetch-Site',
          },
        }),
      );
    },
    onResponse({ response }) {
      // What a response says about CORS depends on the Origin: caches must keep them apart.
      const vary = response.headers.get('vary');
      if (!vary?.includes('Origin')) response.headers.set('vary', vary ? `${vary}, Origin` : 'Origin');
      if (!(response.headers.get('content-type') ?? '').startsWith('text/html')) return;
      for (const name of [...response.headers.keys()]) {
        if (name.startsWith('access-control-')) response.headers.delete(name);
      }
      for (const [name, value] of Object.entries(page.securityHeaders())) response.headers.set(name, value);
      response.headers.set('vary', 'Origin, Sec-Fetch-Site');
    },
  };
}
