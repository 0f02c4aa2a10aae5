import { parseBlob } from 'music-metadata';
import { log } from '../lib/log';

/** Reads bytes [start, end) of the stored object. */
export type RangeReader = (start: number, end: number) => Promise<Uint8Array>;

/** What the container says: seconds, and the picture size of a video track. */
export interface MediaFacts {
  duration?: number;
  width?: number;
  height?: number;
}

/** Reads are made in blocks of this size, so a parser's many small reads cost few requests. */
const BLOCK = 64 * 1024;
/** At most this many ranged reads and bytes per file (an MP4 whose index is at the end needs two or three). */
const MAX_READS = 16;
const MAX_BYTES = 2 * 1024 * 1024;

class ReadBudgetExceeded extends Error {}

/**
 * Duration and video size from the container header (MP4/MOV/M4A, WebM/MKV, MP3, OGG, FLAC, WAV…),
 * with music-metadata (a maintained parser for all of them) reading through a random-access view of
 * the stored object: `head` is what the upload already holds, and anything further (an MP4 whose
 * `moov` sits after the media data, an MP3's trailing tags) is fetched in 64 KiB blocks, at most
 * MAX_READS of them and MAX_BYTES in all. Past that, or on any malformed file, nothing is learned
 * and the upload is not failed.
 */
export async function scrapeMedia(head: Uint8Array, size: number, type: string, read: RangeReader): Promise<MediaFacts> {
  const blocks = new Map<number, Uint8Array>();
  let reads = 0;
  let bytes = 0;
  const block = async (index: number): Promise<Uint8Array> => {
    const start = index * BLOCK;
    const end = Math.min(size, start + BLOCK);
    if (end <= head.byteLength) return head.subarray(start, end);
    let cached = blocks.get(index);
    if (!cached) {
      if (++reads > MAX_READS || (bytes += end - start) > MAX_BYTES) throw new ReadBudgetExceeded(`more than ${MAX_READS} reads or ${MAX_BYTES} bytes`);
      cached = await read(start, end);
      blocks.set(index, cached);
    }
    return cached;
  };
  const bytesAt = async (start: number, end: number): Promise<ArrayBuffer> => {
    const out = new Uint8Array(Math.max(0, end - start));
    for (let at = start; at < end; ) {
      const index = Math.floor(at / BLOCK);
      const data = await block(index);
      const from = at - index * BLOCK;
      const take = Math.min(data.byteLength - from, end - at);
      if (take <= 0) break;
      out.set(data.subarray(from, from + take), at - start);
      at += take;
    }
    return out.buffer;
  };
  // Just the part of the Blob interface that music-metadata's tokenizer uses: size, type, slice.
  // No type: music-metadata then recognises the container from its bytes, as the upload's sniffing
  // did, rather than by a name it may not map (video/quicktime).
  const blob = {
    size,
    type: '',
    slice: (start = 0, end = size) => ({ arrayBuffer: () => bytesAt(start, Math.min(end, size)) }),
  } as unknown as Blob;
  try {
    const { format } = await parseBlob(blob, { skipCovers: true, skipPostHeaders: true, duration: false });
    const facts: MediaFacts = {};
    // QuickTime files report their length per track only.
    const duration = format.duration ?? Math.max(0, ...format.trackInfo.map((t) => t.duration ?? 0));
    if (Number.isFinite(duration) && duration > 0) facts.duration = Math.round(duration);
    const video = format.trackInfo.find((t) => t.video?.pixelWidth && t.video.pixelHeight)?.video;
    if (video?.pixelWidth && video.pixelHeight) {
      facts.width = video.pixelWidth;
      facts.height = video.pixelHeight;
    }
    return facts;
  } catch (error) {
    log('warn', 'media container not readable', { type, reason: (error as Error).message });
    return {};
  }
}
