import { describe, expect, it } from 'vitest';
import { scrapeMedia } from '../../src/files/media';
import { fixture, uploadFile } from '../helpers';

/**
 * Duration (Directus: seconds, for audio and video) and a video's picture size, read from the
 * container on upload. The fixtures are three-second clips made once with ffmpeg (see the fixtures
 * README): 64×48 test-pattern video with a 440 Hz tone, and the tone alone.
 */
const cases: [string, string, { duration: number; width?: number; height?: number }][] = [
  ['media-video.mp4', 'video/mp4', { duration: 3, width: 64, height: 48 }],
  // QuickTime: music-metadata gives the tracks' lengths but not the picture size.
  ['media-video.mov', 'video/quicktime', { duration: 3 }],
  ['media-video.webm', 'video/webm', { duration: 3, width: 64, height: 48 }],
  ['media-video.mkv', 'video/matroska', { duration: 3, width: 64, height: 48 }],
  ['media-audio.mp3', 'audio/mpeg', { duration: 3 }],
  ['media-audio.m4a', 'audio/x-m4a', { duration: 3 }],
  ['media-audio.ogg', 'audio/ogg', { duration: 3 }],
  ['media-audio.flac', 'audio/flac', { duration: 3 }],
  ['media-audio.wav', 'audio/wav', { duration: 3 }],
];

describe('duration and video size on upload', () => {
  for (const [name, type, expected] of cases) {
    it(`${name}: ${type}, ${expected.duration} s${expected.width ? `, ${expected.width}×${expected.height}` : ''}`, async () => {
      const file = await uploadFile({ name, data: fixture(name) });
      expect(file.type).toBe(type);
      expect(file).toMatchObject({ duration: expected.duration, width: expected.width ?? null, height: expected.height ?? null });
    });
  }

  it('malformed media never fails an upload: the fields stay empty', async () => {
    const mp4 = fixture('media-video.mp4');
    const cut = mp4.slice(0, 200);
    const garbled = mp4.slice();
    for (let i = 40; i < garbled.length; i += 7) garbled[i] = 0xff;
    for (const [label, data] of [['cut', cut], ['garbled', garbled]] as const) {
      const file = await uploadFile({ name: `${label}.mp4`, data });
      expect(file.duration, label).toBeNull();
    }
  });
});

/** Top-level MP4 boxes: [offset, size, type]. */
function boxes(b: Uint8Array): [number, number, string][] {
  const out: [number, number, string][] = [];
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i + 8 <= b.length; ) {
    const size = view.getUint32(i);
    out.push([i, size, String.fromCharCode(...b.subarray(i + 4, i + 8))]);
    i += size;
  }
  return out;
}

describe('an MP4 whose index (moov) sits after megabytes of media data', () => {
  it('is read with a few ranged reads, not the whole file', async () => {
    const mp4 = fixture('media-video.mp4');
    const moov = boxes(mp4).find(([, , type]) => type === 'moov');
    expect(moov, 'ffmpeg writes moov last by default').toBeDefined();
    const at = (moov as [number, number, string])[0];
    // A 6 MiB `free` box before moov: the media offsets (before it) stay valid.
    const padding = 6 * 1024 * 1024;
    const big = new Uint8Array(mp4.length + padding);
    big.set(mp4.subarray(0, at));
    new DataView(big.buffer).setUint32(at, padding);
    big.set(new TextEncoder().encode('free'), at + 4);
    big.set(mp4.subarray(at), at + padding);

    const reads: [number, number][] = [];
    const read = async (start: number, end: number) => {
      reads.push([start, end]);
      return big.slice(start, end);
    };
    const head = big.subarray(0, 256 * 1024);
    const facts = await scrapeMedia(head, big.length, 'video/mp4', read);
    expect(facts).toEqual({ duration: 3, width: 64, height: 48 });
    const bytesRead = reads.reduce((n, [s, e]) => n + e - s, 0);
    expect(reads.length).toBeLessThanOrEqual(4);
    expect(bytesRead).toBeLessThanOrEqual(256 * 1024);
  });

  it('gives up within its read budget on a file that keeps asking', async () => {
    const reads: number[] = [];
    const noise = new Uint8Array(64 * 1024 * 1024);
    const facts = await scrapeMedia(new Uint8Array(0), noise.length, 'audio/mpeg', async (start, end) => {
      reads.push(end - start);
      return noise.slice(start, end);
    });
    expect(facts.duration).toBeUndefined();
    expect(reads.length).toBeLessThanOrEqual(16);
  });
});
