import { once } from 'node:events';
import http from 'node:http';

/** The port of the webhook receiver these tests deliver to (the range 7670–7679 is this suite's). */
export const RECEIVER_PORT = 7670;

/** What the receiver was sent, per hook name: the headers and body of each POST, in order. */
export interface Received {
  headers: Record<string, string>;
  body: string;
}

/**
 * Global setup (Node): a webhook receiver on 127.0.0.1. `POST /hooks/<name>` is recorded and
 * answered 204, except that names starting `fail-once-` answer 500 to their first POST and
 * `fail-` ones always answer 503. `GET /received/<name>` gives back what `<name>` was sent;
 * `GET /files/<name>` serves a few bytes to import. Any request to `/probe/<name>/…` is recorded under
 * `<name>` (answered 404): a place that must never be asked anything (an SVG's external references).
 */
export default async function setup() {
  const received = new Map<string, Received[]>();
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const [, kind, name = ''] = (req.url ?? '').split('/');
    if (req.method === 'POST' && kind === 'hooks') {
      const list = received.get(name) ?? [];
      list.push({ headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])), body: Buffer.concat(chunks).toString('utf8') });
      received.set(name, list);
      const status = name.startsWith('fail-once-') ? (list.length === 1 ? 500 : 204) : name.startsWith('fail-') ? 503 : 204;
      res.writeHead(status).end();
    } else if (req.method === 'GET' && kind === 'received') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(received.get(name) ?? []));
    } else if (req.method === 'GET' && kind === 'files') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`imported from the receiver: ${name}`);
    } else if (kind === 'probe') {
      received.set(name, [...(received.get(name) ?? []), { headers: { 'x-path': req.url ?? '' }, body: Buffer.concat(chunks).toString('utf8') }]);
      res.writeHead(404).end();
    } else {
      res.writeHead(404).end();
    }
  });
  server.listen(RECEIVER_PORT, '127.0.0.1');
  await once(server, 'listening');
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
