/**
 * A fault-injecting proxy in front of an S3 server, for the fault suite (test/storage/faults.test.ts).
 * Requests stream through unchanged, Host header included, so SigV4 signatures stay valid; chosen
 * requests instead fail or are cut:
 *   - `fail`: 500 InternalError, the request never reaches the store;
 *   - `slowdown`: 503 SlowDown, likewise;
 *   - `cut-request`: the connection drops while the request body is being received;
 *   - `cut-response`: the store does the work, then the answer is lost: the connection drops after
 *     the headers and half the body, or before the headers when the answer has no body.
 * Faults come from rules (the next `times` requests matching a method and a pattern) and from a
 * seeded random rate, so a run can be repeated exactly. Controlled over HTTP, from the tests:
 *   POST /__faults/rule {method?, match?, action, times?}   POST /__faults/random {seed, failRate, cutRate, match?}
 *   POST /__faults/reset                                     GET /__faults/log (also counts the requests seen)
 * Runs in Node.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultAction = 'fail' | 'slowdown' | 'cut-request' | 'cut-response';

export interface FaultRule {
  method?: string;
  /** A regular expression matched against the path and query. */
  match?: string;
  action: FaultAction;
  times?: number;
}

export interface RandomFaults {
  seed: number;
  failRate: number;
  cutRate: number;
  match?: string;
}

interface Injected {
  method: string;
  path: string;
  action: FaultAction;
}

/** mulberry32: a small seeded generator, so a failing run can be replayed with its seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const xmlError = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;

export async function startFaultProxy(target: string): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const upstream = new URL(target);
  let rules: (FaultRule & { left: number })[] = [];
  let random: { config: RandomFaults; next: () => number } | undefined;
  let injected: Injected[] = [];
  let requests = 0;

  const choose = (req: http.IncomingMessage): FaultAction | undefined => {
    const path = req.url ?? '/';
    const rule = rules.find((r) => r.left > 0 && (!r.method || r.method === req.method) && (!r.match || new RegExp(r.match).test(path)));
    if (rule) {
      rule.left--;
      return rule.action;
    }
    if (!random || (random.config.match && !new RegExp(random.config.match).test(path))) return undefined;
    const r = random.next();
    if (r < random.config.failRate) return random.next() < 0.8 ? 'fail' : 'slowdown';
    if (r < random.config.failRate + random.config.cutRate) {
      const hasBody = Number(req.headers['content-length'] ?? 0) > 0;
      return hasBody && random.next() < 0.5 ? 'cut-request' : 'cut-response';
    }
    return undefined;
  };

  const control = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/__faults/rule') {
      const rule = JSON.parse(body) as FaultRule;
      rules.push({ ...rule, left: rule.times ?? 1 });
    } else if (path === '/__faults/random') {
      const config = JSON.parse(body) as RandomFaults | null;
      random = config ? { config, next: seeded(config.seed) } : undefined;
    } else if (path === '/__faults/reset') {
      rules = [];
      random = undefined;
      injected = [];
      requests = 0;
    } else if (path !== '/__faults/log') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ injected, requests, pendingRules: rules.filter((r) => r.left > 0).length }));
  };

  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/__faults/')) {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => control(req, res, body));
      return;
    }
    requests++;
    const action = choose(req);
    if (action) injected.push({ method: req.method ?? '', path: req.url ?? '', action });
    if (action === 'fail' || action === 'slowdown') {
      req.resume();
      req.on('end', () => {
        res.writeHead(action === 'fail' ? 500 : 503, { 'content-type': 'application/xml' });
        res.end(action === 'fail' ? xmlError('InternalError', 'injected fault') : xmlError('SlowDown', 'injected fault'));
      });
      return;
    }
    if (action === 'cut-request') {
      let seen = 0;
      const half = Number(req.headers['content-length'] ?? 0) / 2;
      req.on('data', (c: Buffer) => {
        seen += c.length;
        if (seen >= half) req.socket.destroy();
      });
      return;
    }
    const up = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (action !== 'cut-response') {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const length = Number(answer.headers['content-length'] ?? 0);
        if (req.method === 'HEAD' || length === 0) {
          answer.resume();
          answer.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        let sent = 0;
        answer.on('data', (chunk: Buffer) => {
          if (sent >= length / 2) return;
          const room = Math.ceil(length / 2) - sent;
          res.write(chunk.subarray(0, room));
          sent += Math.min(room, chunk.length);
          if (sent >= length / 2) {
            answer.destroy();
            // Flush what was written, then drop the connection mid-body.
            setTimeout(() => res.socket?.destroy(), 20);
          }
        });
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/xml' }).end(xmlError('BadGateway', 'upstream unreachable'));
      else res.destroy();
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
