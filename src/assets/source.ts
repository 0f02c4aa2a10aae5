import type { Config } from '../config';
import type { FileRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { type Dimensions, readDimensions } from '../images/dimensions';
import type { StreamedSource } from '../images/pipeline';
import { isTiff } from '../images/tiff-ifd';
import { concat } from '../lib/bytes';
import { storageFor } from '../storage';

/** Types the pipeline decodes (SVG rendered to raster); others are served as they are, as Directus does. */
export const RASTER_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif', 'image/tiff', 'image/svg+xml']);

/** A source larger than this is not fetched into memory to be decoded (PNG is streamed instead). */
const MAX_SOURCE_BYTES = 48 * 1024 * 1024;
/** Read before the header is looked at (a JPEG's frame header may follow up to 1 MiB of metadata). */
const HEADER_BYTES = 256 * 1024;

/**
 * The source and its header, from one read of the object. The dimensions come from the first bytes,
 * so the pipeline can refuse a 20000×20000 PNG that is small on disk without decoding a pixel. A PNG
 * stays a stream (its decoder holds a row at a time, so it has no size cap but its pixels); other
 * formats are decoded from the whole file, so they are read into memory up to MAX_SOURCE_BYTES.
 * `fits` checks the header (the output and work budgets) before anything more is read.
 */
export async function readSource(
  config: Config,
  row: FileRow,
  fits: (head: Uint8Array, header: Dimensions) => void,
  reading: { failed: boolean },
): Promise<{ source: Uint8Array | StreamedSource; header: Dimensions }> {
  const read = await storageFor(config, row.storage).readObject(row.filenameDisk ?? row.id);
  if (!read) throw new AppError('NOT_FOUND', `File "${row.id}" has no stored bytes.`);
  const reader = read.body.getReader();
  const next = () =>
    reader.read().catch((error: unknown) => {
      reading.failed = true;
      throw error;
    });
  const chunks: Uint8Array[] = [];
  let size = 0;
  let ended = false;
  const readTo = async (want: number) => {
    while (!ended && size < want) {
      const { done, value } = await next();
      if (done) ended = true;
      else {
        chunks.push(value);
        size += value.byteLength;
      }
    }
    const whole = concat(chunks);
    chunks.splice(0, chunks.length, whole);
    return whole;
  };
  try {
    let prefix = await readTo(HEADER_BYTES);
    let header = readDimensions(prefix);
    // A TIFF's directory is often at its end: it is read as far as a whole source may be.
    const headerLimit = isTiff(prefix) ? MAX_SOURCE_BYTES + 1 : 4 * HEADER_BYTES;
    while (header && 'needBytes' in header && header.needBytes > size && !ended && size < headerLimit) {
      prefix = await readTo(Math.min(header.needBytes + HEADER_BYTES, headerLimit));
      header = readDimensions(prefix);
    }
    if (!header || 'needBytes' in header) throw new AppError('UNPROCESSABLE_IMAGE', `File "${row.id}" is not an image that can be transformed (its header could not be read).`);
    fits(prefix, header);
    if (header.format === 'png') {
      const stream = new ReadableStream<Uint8Array>({
        start: (controller) => controller.enqueue(prefix),
        pull: async (controller) => {
          const { done, value } = await next();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        cancel: (reason) => reader.cancel(reason),
      });
      return { source: { head: prefix, stream }, header };
    }
    if (row.filesize > MAX_SOURCE_BYTES) {
      throw new AppError('UNPROCESSABLE_IMAGE', `The image file is ${row.filesize} bytes; transforms read at most ${MAX_SOURCE_BYTES} of a ${header.format.toUpperCase()} file.`);
    }
    const bytes = await readTo(MAX_SOURCE_BYTES + 1);
    await reader.cancel();
    return { source: bytes, header };
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
}
