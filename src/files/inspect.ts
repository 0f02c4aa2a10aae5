import { fileTypeFromBuffer } from 'file-type';
import { AppError } from '../errors/app-error';
import { concat } from '../lib/bytes';
import { wellFormedType } from './media-type';
import { extensionOf } from './record';
import { afterPrologue } from '../images/svg-size';

/**
 * How much of a file is held to learn what it is: enough for every magic number and, for almost
 * every photo, its EXIF/IPTC/XMP segments. Metadata past it is fetched with one Range GET.
 */
export const HEAD_BYTES = 256 * 1024;

/**
 * Reads up to `n` bytes from the start of a stream and returns them with a stream that still yields
 * every byte (the head first, then the rest), so sniffing never costs a second read.
 */
export async function peek(stream: ReadableStream<Uint8Array>, n: number): Promise<{ head: Uint8Array; stream: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let done = false;
  while (size < n) {
    const next = await reader.read();
    if (next.done) {
      done = true;
      break;
    }
    chunks.push(next.value);
    size += next.value.byteLength;
  }
  const head = concat(chunks);
  const rest = new ReadableStream<Uint8Array>({
    start(controller) {
      if (head.byteLength > 0) controller.enqueue(head);
      if (done) controller.close();
    },
    async pull(controller) {
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { head: head.subarray(0, Math.min(n, head.byteLength)), stream: rest };
}

export interface DetectedType {
  type: string;
  /** The extension for `filename_disk`: the sniffed format's, else the client's. */
  ext: string | undefined;
  /** The extension the bytes alone give (never the client's): a key made of a name takes this one. */
  typeExt: string | undefined;
}

/**
 * The real type of a file, from its bytes (file-type's magic numbers, plus SVG, which is text). The
 * declared type is used only when the bytes say nothing and it is a well-formed `type/subtype`; text
 * without one is text/plain.
 * A PNG uploaded as `photo.jpg` with `image/jpeg` is recorded as image/png with the extension png.
 */
export async function detectType(head: Uint8Array, declared: string | undefined, filename: string): Promise<DetectedType> {
  // SVG first: file-type reports it as generic XML.
  if (isSvg(head)) return { type: 'image/svg+xml', ext: 'svg', typeExt: 'svg' };
  const sniffed = head.byteLength > 0 ? await fileTypeFromBuffer(head).catch(() => undefined) : undefined;
  if (sniffed) return { type: sniffed.mime, ext: sniffed.ext, typeExt: sniffed.ext };
  const clean = wellFormedType(declared);
  if (clean && clean !== 'application/octet-stream') return { type: clean, ext: extensionOf(filename), typeExt: PLAIN_TYPE_EXT[clean] };
  if (head.byteLength > 0 && isText(head)) return { type: 'text/plain', ext: extensionOf(filename) ?? 'txt', typeExt: 'txt' };
  return { type: 'application/octet-stream', ext: extensionOf(filename), typeExt: undefined };
}

/** Declared types without magic numbers whose extension is certain; others give a name's key none. */
const PLAIN_TYPE_EXT: Partial<Record<string, string>> = { 'text/plain': 'txt', 'text/csv': 'csv', 'text/markdown': 'md', 'application/json': 'json' };

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function isText(head: Uint8Array): boolean {
  const sample = head.subarray(0, 8192);
  if (sample.includes(0)) return false;
  // A multi-byte character may be cut at the end of the sample: allow up to 3 trailing bytes off.
  for (let cut = 0; cut < 4; cut++) {
    try {
      decoder.decode(sample.subarray(0, sample.byteLength - cut));
      return true;
    } catch {
      // try a shorter sample
    }
  }
  return false;
}

function isSvg(head: Uint8Array): boolean {
  return /^<svg[\s>]/i.test(afterPrologue(new TextDecoder().decode(head.subarray(0, 4096))));
}

/**
 * FILES_MIME_TYPE_ALLOW_LIST: comma-separated globs (`image/*`, `application/pdf`, `*\/*`). A type
 * outside it is a 415 before anything is stored.
 */
export function assertTypeAllowed(type: string, allowList: string[]): void {
  const allowed = allowList.some((glob) => {
    const [g1 = '', g2 = ''] = glob.toLowerCase().split('/');
    const [t1 = '', t2 = ''] = type.toLowerCase().split('/');
    return (g1 === '*' || g1 === t1) && (g2 === '*' || g2 === t2);
  });
  if (!allowed) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', `Files of type ${type} are not allowed here (FILES_MIME_TYPE_ALLOW_LIST: ${allowList.join(', ')}).`);
  }
}
