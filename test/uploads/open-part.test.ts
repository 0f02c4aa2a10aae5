import { describe, expect, it } from 'vitest';
import type { Sink, WrittenBody } from '../../src/storage/written-body';
import { OpenPart } from '../../src/uploads/open-part';
import { bytes } from '../helpers';

/** A request to storage as OpenPart sees it: it reads the whole body, then answers. */
function storage() {
  const got: { body?: Uint8Array; error?: unknown } = {};
  const send = async (body: WrittenBody) => {
    try {
      got.body = new Uint8Array(await new Response(body.readable).arrayBuffer());
    } catch (error) {
      got.error = error;
      throw error;
    }
    return { partNumber: 1, etag: '"e"', size: got.body.byteLength };
  };
  return { got, send };
}

describe('OpenPart', () => {
  it('one request body fed by buffers and pieces that write themselves in turn, answered once it is full', async () => {
    const data = bytes(300_000, 11);
    const { got, send } = storage();
    const part = new OpenPart(1000, data.byteLength, send);
    await part.feed(data.slice(0, 100_000), 100_000);
    expect(part.end).toBe(101_000);
    await part.feed(async (sink: Sink) => {
      await sink.write(data.slice(100_000, 200_000));
      await sink.write(data.slice(200_000, 250_000));
    }, 150_000);
    await part.feed(data.slice(250_000), 50_000);
    expect(part.left).toBe(0);
    expect(await part.close()).toEqual({ partNumber: 1, etag: '"e"', size: data.byteLength });
    expect(got.body).toEqual(data);
    expect(part.failed).toBeUndefined();
  });

  it('a piece that fails (a cut body) fails the request, and the part knows it', async () => {
    const { got, send } = storage();
    const part = new OpenPart(0, 10, send);
    const cut = async (sink: Sink) => {
      await sink.write(new Uint8Array(3));
      throw new Error('cut');
    };
    await expect(part.feed(cut, 5)).rejects.toThrow('cut');
    await expect.poll(() => part.failed).toBeDefined();
    expect(got.error).toBeDefined();
  });

  it('given up between PATCHes, its request ends without a part', async () => {
    const { got, send } = storage();
    const part = new OpenPart(0, 10, send);
    await part.feed(new Uint8Array(4), 4);
    part.abort(new Error('restarted'));
    await expect.poll(() => got.error).toBeDefined();
    expect(String(part.failed)).toContain('restarted');
  });
});
