import sharp from 'sharp';
import { expect, it } from 'vitest';
import { decodeAvif } from '../src/images/avif.ts';

/**
 * An AVIF's checked size is its `ispe`, but libavif and dav1d size their buffers from the AV1 frame.
 * The decoder's heap is capped, so a file whose ispe says 50×50 over a 5000×5000 frame fails its
 * allocation instead of taking ~140 MB (libavif would refuse the mismatch only after decoding).
 * Measured as the process's resident memory across the decode: the cap keeps it under 100 MiB.
 */
it('an AVIF frame larger than its ispe fails inside the capped heap, without taking its memory', async () => {
  const big = await sharp({ create: { width: 5000, height: 5000, channels: 3, background: '#3060a0' } }).avif({ quality: 30, effort: 0 }).toBuffer();
  const lying = new Uint8Array(big);
  const at = big.indexOf('ispe');
  new DataView(lying.buffer).setUint32(at + 8, 50);
  new DataView(lying.buffer).setUint32(at + 12, 50);
  const header = { format: 'avif' as const, width: 50, height: 50 };
  const before = process.memoryUsage().rss;
  const whole = (w: number, h: number) => ({ left: 0, top: 0, width: w, height: h, outWidth: w, outHeight: h });
  await expect(decodeAvif(lying, header, whole(50, 50), 0, 2 ** 30)).rejects.toThrow();
  expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  // The next AVIF gets a fresh instance and decodes.
  const small = new Uint8Array(await sharp({ create: { width: 40, height: 30, channels: 3, background: '#a06030' } }).avif().toBuffer());
  const pixels = await decodeAvif(small, { format: 'avif', width: 40, height: 30 }, whole(40, 30), 0, 2 ** 30);
  expect([pixels.width, pixels.height]).toEqual([40, 30]);
});
