import type { BudgetCase } from '../bench-budget-case.ts';
import { type LocalStack, STACK_TOKEN } from '../local-stack.ts';

/**
 * Records and lists: files carrying the largest `metadata` the server takes (~1 MiB a file before,
 * 64 KiB now) until ~43 MB is stored, then `GET /files?limit=-1` over them twice (bytes, ms, peak
 * RSS); and a ~1 MiB `title` form field streamed after a file-sized body (a hang before).
 */
const AUTH = { Authorization: `Bearer ${STACK_TOKEN}` };
const MiB = 1024 * 1024;
const STORED = 43 * 1000 * 1000;
const CAP_MS = 30_000;

function upload(stack: LocalStack, fields: Record<string, string>): Promise<Response> {
  const body = new FormData();
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  body.append('file', new File(['x'], 'x.txt', { type: 'text/plain' }));
  return fetch(`${stack.base}/files`, { method: 'POST', headers: AUTH, body });
}

const metadataOf = (bytes: number) => JSON.stringify({ k: 'x'.repeat(bytes - 8) });

/** The largest metadata of these sizes the server takes, with the status of each one tried. */
async function largestMetadata(stack: LocalStack, tag: string): Promise<{ size: number; tried: Record<string, number> }> {
  const tried: Record<string, number> = {};
  for (const size of [MiB - 1024, 64 * 1024]) {
    const res = await upload(stack, { title: tag, metadata: metadataOf(size) });
    await res.arrayBuffer();
    tried[`metadata_${size}_bytes`] = res.status;
    if (res.status === 200) return { size, tried };
  }
  throw new Error('no metadata size taken');
}

const growth = (p: { before: number; peak: number }) => +((p.peak - p.before) / MiB).toFixed(1);

async function timed(fn: () => Promise<Response>): Promise<{ status: number | string; ms: number; bytes: number; next_offset?: number }> {
  const started = performance.now();
  try {
    const res = await fn();
    const body = await res.text();
    const meta = res.status === 200 ? (JSON.parse(body) as { meta?: { next_offset?: number } }).meta : undefined;
    return { status: res.status, ms: Math.round(performance.now() - started), bytes: Buffer.byteLength(body), ...(meta?.next_offset === undefined ? {} : { next_offset: meta.next_offset }) };
  } catch {
    return { status: `> ${CAP_MS / 1000} s`, ms: CAP_MS, bytes: 0 };
  }
}

/** A ~1 MiB title, then a 4 MiB file, sent in 64 KiB chunks as a network client sends them. */
function streamedTitle(stack: LocalStack): Promise<Response> {
  const boundary = 'b0undary';
  const head = `--${boundary}\r\ncontent-disposition: form-data; name="title"\r\n\r\n${'t'.repeat(MiB + 64)}\r\n--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="f.txt"\r\ncontent-type: text/plain\r\n\r\n`;
  const body = new TextEncoder().encode(`${head}${'z'.repeat(4 * MiB)}\r\n--${boundary}--\r\n`);
  let at = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((r) => setTimeout(r, 1));
      if (at >= body.byteLength) return controller.close();
      controller.enqueue(body.slice(at, at + 64 * 1024));
      at += 64 * 1024;
    },
  });
  return fetch(`${stack.base}/files`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: stream,
    duplex: 'half',
    signal: AbortSignal.timeout(CAP_MS),
  } as RequestInit);
}

const lists: BudgetCase = async (stack, peak) => {
  const tag = `bench-${Date.now()}`;
  const { size, tried } = await largestMetadata(stack, tag);
  const files = Math.ceil(STORED / size);
  for (let i = 1; i < files; i += 8) {
    await Promise.all(
      Array.from({ length: Math.min(8, files - i) }, async () => {
        const res = await upload(stack, { title: tag, metadata: metadataOf(size) });
        if (res.status !== 200) throw new Error(`upload: ${res.status} ${await res.text()}`);
      }),
    );
  }
  const list = () => fetch(`${stack.base}/files?limit=-1&filter[title][_eq]=${tag}`, { headers: AUTH, signal: AbortSignal.timeout(CAP_MS) });
  const first = await peak(() => timed(list));
  const second = await peak(() => timed(list));
  const title = await peak(() => timed(() => streamedTitle(stack)));
  return {
    ...tried,
    files,
    metadata_bytes_each: size,
    list_limit_all: { ...first.result, rss_growth_mib: growth(first) },
    list_limit_all_again: { ...second.result, rss_growth_mib: growth(second) },
    title_1mib_streamed: { status: title.result.status, ms: title.result.ms, rss_growth_mib: growth(title) },
  };
};

export default lists;
