import { beforeAll, describe, expect, it } from 'vitest';
import { api, errorOf, type FileJson, form, tusMetadata, uploadFile } from '../helpers';

/**
 * Every free-form field has a size limit in bytes, on every path that writes it; a form field past
 * its limit is a 400 naming the field and the limit, and never hangs the request; a list answer is
 * bounded in bytes, `limit=-1` included.
 */
const json = { 'content-type': 'application/json' };
/** The limits the README states (bytes, UTF-8). */
const FIELD_MAX_BYTES = { title: 1024, filename_download: 255, location: 1024, description: 16 * 1024, tags: 8 * 1024, metadata: 64 * 1024 };
const QUERY_LIMITS = { answerBytes: 8 * 1024 * 1024 };
const txt = { name: 'a.txt', data: 'a', type: 'text/plain' };
type Limited = keyof typeof FIELD_MAX_BYTES;

/** A value of `field` that takes `bytes` bytes as stored (é is 2 bytes: characters are not bytes). */
function sized(field: Limited, bytes: number): unknown {
  if (field === 'metadata') return { k: 'é'.repeat((bytes - '{"k":""}'.length) / 2) };
  if (field === 'tags') return ['é'.repeat((bytes - '[""]'.length) / 2)];
  return 'é'.repeat(bytes / 2);
}
const asForm = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
const over = (field: Limited) => sized(field, FIELD_MAX_BYTES[field] + 2);
const at = (field: Limited) => sized(field, FIELD_MAX_BYTES[field]);
const FIELDS = Object.keys(FIELD_MAX_BYTES) as Limited[];

function expectLimit(error: { status: number; code: string | undefined; message: string }, field: string) {
  expect(error).toEqual({ status: 400, code: 'INVALID_PAYLOAD', message: `"${field}" may be at most ${FIELD_MAX_BYTES[field as Limited]} bytes (UTF-8).` });
}

let file: FileJson;
beforeAll(async () => {
  file = await uploadFile(txt);
});

describe('each write path refuses each field past its limit, and takes it at its limit', () => {
  for (const field of FIELDS) {
    it(`${field}: POST /files (multipart)`, async () => {
      expectLimit(await errorOf(await api('/files', { method: 'POST', body: form([txt], { [field]: asForm(over(field)) }) })), field);
      const ok = await api('/files', { method: 'POST', body: form([txt], { [field]: asForm(at(field)) }) });
      expect(ok.status).toBe(200);
    });

    it(`${field}: PATCH /files/:id (JSON), and the record is unchanged`, async () => {
      expectLimit(await errorOf(await api(`/files/${file.id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ [field]: over(field) }) })), field);
      expect(((await (await api(`/files/${file.id}`)).json()) as { data: FileJson }).data).toEqual(file);
    });

    it(`${field}: PATCH /files/:id (multipart replace), and the bytes are unchanged`, async () => {
      const res = await api(`/files/${file.id}`, { method: 'PATCH', body: form([{ name: 'b.txt', data: 'new', type: 'text/plain' }], { [field]: asForm(over(field)) }) });
      expectLimit(await errorOf(res), field);
      expect(await (await api(`/assets/${file.id}`)).text()).toBe('a');
    });

    it(`${field}: POST /files/import "data" (refused before any fetch)`, async () => {
      const res = await api('/files/import', { method: 'POST', headers: json, body: JSON.stringify({ url: 'https://files.example.com/x', data: { [field]: over(field) } }) });
      expectLimit(await errorOf(res), field);
    });

    it(`${field}: TUS Upload-Metadata`, async () => {
      const res = await api('/files/tus', {
        method: 'POST',
        headers: { 'tus-resumable': '1.0.0', 'upload-length': '1', 'upload-metadata': tusMetadata({ filename: 'a.txt', [field]: asForm(over(field)) }) },
      });
      expectLimit(await errorOf(res), field);
    });
  }

  it('a folder name of 256 bytes (128 characters) is refused; 255 bytes are taken', async () => {
    const long = await api('/folders', { method: 'POST', headers: json, body: JSON.stringify({ name: 'é'.repeat(128) }) });
    expect(await errorOf(long)).toEqual({ status: 400, code: 'INVALID_PAYLOAD', message: '"name" may be at most 255 bytes (UTF-8).' });
    const ok = await api('/folders', { method: 'POST', headers: json, body: JSON.stringify({ name: `${'é'.repeat(127)}x` }) });
    expect(ok.status).toBe(200);
  });
});

describe('a form field of ~1 MiB', () => {
  /** A multipart body sent as a stream in 16 KiB chunks, as a client over a network sends it. */
  function streamed(fields: Record<string, string>, fileBytes: number): Request {
    const boundary = 'b0undary';
    let text = '';
    for (const [k, v] of Object.entries(fields)) text += `--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`;
    text += `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="f.txt"\r\ncontent-type: text/plain\r\n\r\n${'z'.repeat(fileBytes)}\r\n--${boundary}--\r\n`;
    const body = new TextEncoder().encode(text);
    let at = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((r) => setTimeout(r, 0));
        if (at >= body.byteLength) return controller.close();
        controller.enqueue(body.slice(at, at + 16 * 1024));
        at += 16 * 1024;
      },
    });
    return new Request('http://assets.test/files', {
      method: 'POST',
      body: stream,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, authorization: 'Bearer test-admin-token-0123456789' },
      duplex: 'half',
    } as RequestInit);
  }

  for (const field of ['title', 'description', 'location', 'filename_download', 'tags', 'metadata', 'unknown_field']) {
    it(`${field}: a 400 naming the field and its limit, not a hang or a 500`, async () => {
      const { exports } = await import('cloudflare:workers');
      const value = field === 'metadata' ? JSON.stringify({ k: 'x'.repeat(1024 * 1024) }) : 'x'.repeat(1024 * 1024 + 64);
      const answer = exports.default.fetch(streamed({ [field]: value }, 2 * 1024 * 1024));
      const timeout = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000));
      const res = await Promise.race([answer, timeout]);
      expect(res).not.toBe('hung');
      const error = await errorOf(res as Response);
      expect(error.status).toBe(400);
      expect(error.message).toMatch(new RegExp(`"${field}" may be at most \\d+ bytes`));
      if (field !== 'unknown_field') expect(error.message).toContain(String(FIELD_MAX_BYTES[field as Limited]));
    });
  }
});

describe('a list answer is bounded in bytes', () => {
  it(`limit=-1 over files with limit-sized metadata stops at ${QUERY_LIMITS.answerBytes} bytes and says where to go on`, async () => {
    const tag = `big-${crypto.randomUUID().slice(0, 8)}`;
    const metadata = JSON.stringify(at('metadata'));
    const n = Math.ceil(QUERY_LIMITS.answerBytes / FIELD_MAX_BYTES.metadata) + 5;
    for (let i = 0; i < n; i += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, n - i) }, async () => {
          const res = await api('/files', { method: 'POST', body: form([txt], { title: tag, metadata }) });
          expect(res.status).toBe(200);
        }),
      );
    }
    const seen: string[] = [];
    let offset = 0;
    for (let pages = 0; pages < 5; pages++) {
      const res = await api(`/files?limit=-1&offset=${offset}&filter[title][_eq]=${tag}&meta=filter_count`);
      const body = await res.text();
      expect(new TextEncoder().encode(body).byteLength).toBeLessThanOrEqual(QUERY_LIMITS.answerBytes + 1024);
      const page = JSON.parse(body) as { data: FileJson[]; meta: { filter_count: number; next_offset?: number } };
      expect(page.meta.filter_count).toBe(n);
      seen.push(...page.data.map((f) => f.id));
      if (page.meta.next_offset === undefined) break;
      expect(page.meta.next_offset).toBe(offset + page.data.length);
      offset = page.meta.next_offset;
    }
    expect(offset).toBeGreaterThan(0);
    expect(new Set(seen).size).toBe(n);
    expect(seen.length).toBe(n);
  });

  it('a page that fits is whole, without next_offset', async () => {
    const page = (await (await api(`/files?limit=2&fields=id`)).json()) as { data: unknown[]; meta?: unknown };
    expect(page.data.length).toBe(2);
    expect(page.meta).toBeUndefined();
  });
});
