import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/** APIXO's routes (docs/contract.md §2): what a server that is APIXO and not Longshot answers. */
const APIXO_ROUTE = /^\/api\/v1\/(?:generateTask\/[^/?]+|statusTask\/[^/?]+|apikeys\/current-balance)(?:\?|$)/;

/**
 * A real HTTP server on loopback that serves only APIXO's own routes, by passing them to a
 * Longshot, and answers every other path 404 as a server without it does: a stand-in for APIXO
 * itself where a test needs "a server without Longshot's additions".
 */
export async function startApixoOnlyProxy(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    if (!APIXO_ROUTE.test(req.url ?? '')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    const forward = request(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
