import { describe, expect, it } from 'vitest';
import { segmentsThen } from '../../src/uploads/staging';
import { bytes, testClient, uniqueKey } from '../helpers';

const client = testClient();

describe('segmentsThen', () => {
  it('reads the staged segments back in order, then the request\'s bytes: one part\'s body', async () => {
    const pieces = [bytes(70_000, 21), bytes(5, 22), bytes(130_000, 23)];
    const segments = [];
    let start = 0;
    for (const p of pieces) {
      const key = uniqueKey('staged');
      await client.putObject(key, p, { contentLength: p.byteLength });
      segments.push({ start, key, size: p.byteLength });
      start += p.byteLength;
    }
    const tail = bytes(1000, 24);
    const body = new Uint8Array(await new Response(segmentsThen(client, segments, new Blob([tail]).stream())).arrayBuffer());
    expect(body).toEqual(new Uint8Array([...pieces.flatMap((p) => [...p]), ...tail]));
    const staged = new Uint8Array(await new Response(segmentsThen(client, segments.slice(1))).arrayBuffer());
    expect(staged.byteLength).toBe(130_005);
  });
});
