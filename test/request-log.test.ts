import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, bytes, uploadFile } from './helpers';

const anon = (path: string) => api(path, { token: null });

/** The request lines `fn` wrote, parsed. */
async function requestLines(fn: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const spy = (line: unknown) => void lines.push(String(line));
  const log = vi.spyOn(console, 'log').mockImplementation(spy);
  const error = vi.spyOn(console, 'error').mockImplementation(spy);
  try {
    await fn();
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
}

afterEach(() => vi.restoreAllMocks());

describe('request log lines', () => {
  it('samples edge-cache hits at LOG_SAMPLE_RATE (0.01 by default) and keeps every other request', async () => {
    const file = await uploadFile({ name: 'logged.bin', data: bytes(2000, 9) });
    const path = `/assets/${file.id}`;
    for (let i = 0; i < 40; i++) {
      const res = await anon(path);
      await res.arrayBuffer();
      if (res.headers.get('x-cache') === 'HIT-EDGE') break;
      await new Promise((r) => setTimeout(r, 25));
    }

    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const unsampled = await requestLines(async () => {
      const hit = await anon(path);
      expect(hit.headers.get('x-cache')).toBe('HIT-EDGE');
      await hit.arrayBuffer();
    });
    expect(unsampled).toEqual([]);

    vi.spyOn(Math, 'random').mockReturnValue(0.005);
    const sampled = await requestLines(async () => (await anon(path)).arrayBuffer());
    expect(sampled).toEqual([expect.objectContaining({ route: '/assets/:id', status: 200, sampled: true })]);

    // Misses, errors and API calls are never dropped, whatever the dice say.
    vi.spyOn(Math, 'random').mockReturnValue(0.99);
    const always = await requestLines(async () => {
      await (await anon(`/assets/${file.id}?width=10`)).arrayBuffer();
      await (await anon('/no-such-route')).arrayBuffer();
      await (await api(`/files/${file.id}`)).arrayBuffer();
    });
    expect(always.map((l) => l.status)).toEqual([expect.any(Number), 404, 200]);
    expect(always.some((l) => 'sampled' in l)).toBe(false);
  });
});
