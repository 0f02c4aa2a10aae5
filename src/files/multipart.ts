import { Buffer } from 'node:buffer';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { AppError } from '../errors/app-error';
import { FORM_FIELD_MAX_BYTES, fieldMaxBytes } from './fields';

export type FormPart =
  | { kind: 'field'; name: string; value: string }
  | { kind: 'file'; name: string; filename: string; mimeType: string; stream: ReadableStream<Uint8Array> };

/**
 * busboy stops buffering a field when it reaches `fieldSize` and marks it truncated: one byte more
 * than the longest limit, so that a field at its limit passes and any longer one is refused.
 */
const FIELD_LIMITS = { fields: 100, fieldSize: FORM_FIELD_MAX_BYTES + 1, parts: 1100, headerPairs: 100 };

/**
 * The parts of a `multipart/form-data` body, in order, without buffering it: busboy (RFC 7578,
 * `filename*` decoding, header limits) parses the request stream as it arrives. A file part's stream
 * must be read to its end (or cancelled) before the next part is produced; until then busboy, and so
 * the request body, waits. This is why `request.formData()`, which holds the whole body, is not used.
 */
export async function* multipartParts(request: Request): AsyncGenerator<FormPart> {
  const contentType = request.headers.get('content-type') ?? '';
  if (!/^multipart\/form-data\s*;/i.test(contentType) || !request.body) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the file as multipart/form-data with a boundary.');
  }
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: { 'content-type': contentType }, limits: FIELD_LIMITS, defParamCharset: 'utf8' });
  } catch {
    throw new AppError('INVALID_PAYLOAD', 'The multipart/form-data body has no valid boundary.');
  }

  const queue = new PartQueue();
  parser.on('field', (name, value, info) => {
    const limit = fieldMaxBytes(name) ?? FORM_FIELD_MAX_BYTES;
    if (info.valueTruncated) queue.fail(new AppError('INVALID_PAYLOAD', `"${name}" may be at most ${limit} bytes (UTF-8).`));
    else queue.push({ kind: 'field', name, value });
  });
  parser.on('file', (name, file, info) => {
    queue.push({ kind: 'file', name, filename: info.filename ?? name, mimeType: info.mimeType, stream: toWebStream(file) });
  });
  parser.on('partsLimit', () => queue.fail(new AppError('INVALID_PAYLOAD', `A request may have at most ${FIELD_LIMITS.parts} parts.`)));
  parser.on('fieldsLimit', () => queue.fail(new AppError('INVALID_PAYLOAD', `A request may have at most ${FIELD_LIMITS.fields} fields.`)));
  parser.on('error', (error: Error) => queue.fail(new AppError('INVALID_PAYLOAD', `Malformed multipart/form-data: ${error.message}.`)));
  parser.on('close', () => queue.end());

  const reader = request.body.getReader();
  const pumping = pump(reader, parser).catch((error: unknown) => {
    queue.fail(error instanceof AppError ? error : new AppError('INVALID_PAYLOAD', 'The request body ended unexpectedly.'));
    parser.destroy();
  });
  try {
    yield* queue;
  } finally {
    // The reader holds the body locked: it is what must be cancelled for a pending read to end.
    // The parser is destroyed first, so a pump waiting for its `drain` wakes on `close` instead
    // (a refused field used to leave it waiting for ever, and the request hung).
    parser.destroy();
    await reader.cancel().catch(() => {});
    await pumping;
  }
}

/** Feeds the request body to busboy, honouring its backpressure, until the body or the parser ends. */
async function pump(reader: ReadableStreamDefaultReader<Uint8Array>, parser: busboy.Busboy): Promise<void> {
  for (;;) {
    const { done, value } = await reader.read();
    if (done || parser.destroyed) break;
    if (!parser.write(Buffer.from(value.buffer, value.byteOffset, value.byteLength))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          parser.off('drain', done).off('close', done);
          resolve();
        };
        parser.on('drain', done).on('close', done);
      });
    }
  }
  if (!parser.destroyed) parser.end();
}

/**
 * A Node readable as a web stream, pulling only as fast as the consumer reads. Chunks are copied:
 * busboy's slices may share memory with the input chunk, which the consumer may hold on to.
 */
function toWebStream(file: Readable): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        file.on('data', (chunk: Buffer) => {
          controller.enqueue(new Uint8Array(chunk));
          if ((controller.desiredSize ?? 0) <= 0) file.pause();
        });
        file.on('end', () => controller.close());
        file.on('error', (error) => controller.error(error));
        file.pause();
      },
      pull() {
        file.resume();
      },
      cancel() {
        // Drain what is left of this part so that busboy can move on to the next one.
        file.removeAllListeners('data');
        file.resume();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 256 * 1024 }),
  );
}

/** A single-consumer async queue of parts. */
class PartQueue implements AsyncIterable<FormPart> {
  private items: FormPart[] = [];
  private done = false;
  private error: unknown;
  private wake: (() => void) | undefined;

  push(part: FormPart): void {
    this.items.push(part);
    this.wake?.();
  }

  end(): void {
    this.done = true;
    this.wake?.();
  }

  fail(error: unknown): void {
    if (this.error === undefined) this.error = error;
    this.done = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<FormPart> {
    for (;;) {
      if (this.error !== undefined) throw this.error;
      const next = this.items.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.done) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
