/**
 * A pass-through proxy in front of an S3 server that records the size of every UploadPart, by
 * upload id, so tests can prove that every non-final part had the same size (R2's rule) on servers
 * that do not enforce it. Requests stream through unchanged, Host included, so signatures hold.
 */
import http from 'node:http';
import type net from 'node:net';

export interface PartRecorder {
  endpoint: string;
  /** Part sizes of each completed multipart upload, in part order. */
  completed: number[][];
  /** Parts written by UploadPartCopy (sized from their copy range). */
  copies: number;
  close(): Promise<void>;
}

export async function startPartRecorder(target: string): Promise<PartRecorder> {
  const upstream = new URL(target);
  const parts = new Map<string, Map<number, number>>();
  const completed: number[][] = [];
  const recorder = { copies: 0 };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const uploadId = url.searchParams.get('uploadId');
    const partNumber = Number(url.searchParams.get('partNumber'));
    if (uploadId && req.method === 'PUT' && partNumber) {
      if (!parts.has(uploadId)) parts.set(uploadId, new Map());
      const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers['x-amz-copy-source-range'] ?? ''));
      if (req.headers['x-amz-copy-source']) recorder.copies++;
      parts.get(uploadId)?.set(partNumber, range ? Number(range[2]) - Number(range[1]) + 1 : Number(req.headers['content-length'] ?? Number.NaN));
    }
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (uploadId && req.method === 'POST' && answer.statusCode === 200) {
          const sizes = [...(parts.get(uploadId) ?? new Map<number, number>()).entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s);
          completed.push(sizes);
          parts.delete(uploadId);
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    // A request the Worker cut is cut upstream too, so no half-sent body keeps the S3 server waiting.
    req.on('close', () => {
      if (!req.complete) forward.destroy();
    });
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    completed,
    get copies() {
      return recorder.copies;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // A request cut on the Worker's side may leave its connection here open: close it too.
        server.closeAllConnections();
      }),
  };
}
