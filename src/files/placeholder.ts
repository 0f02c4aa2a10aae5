/**
 * ThumbHash placeholders (https://evanw.github.io/thumbhash/): ~25 bytes that a page decodes into a
 * blurred preview, with the image's average colour and aspect ratio, while the real image loads.
 * Each image gets one after its upload, off the request (the answer does not wait for a decode); an
 * image whose job was lost (an evicted isolate, a storage failure) is found by the sweep, which
 * also fills in files uploaded before placeholders existed.
 */
import { env, waitUntil } from 'cloudflare:workers';
import { PhotonImage } from '@cf-wasm/photon';
import { rgbaToThumbHash } from 'thumbhash';
import { refusalOf } from '../assets/refusals';
import { RASTER_TYPES, readSource } from '../assets/source';
import { type Config, getConfig } from '../config';
import { isTransient } from '../errors/app-error';
import { FilesRepository } from '../db/files-repository';
import type { FileRow } from '../db/schema';
import type { Bindings } from '../env';
import { plannedOutput, shownOrientation, type StreamedSource, transformImage } from '../images/pipeline';
import type { Transform } from '../images/transform';
import { base64 } from '../lib/bytes';
import { log } from '../lib/log';

/** Stored for a file that has no placeholder and never will (not an image the engine decodes, or one it refused). */
export const NO_PLACEHOLDER = '';

/** What a new record starts with: null (to be made) for images the engine decodes. */
export const initialThumbhash = (type: string | null): string | null => (type !== null && RASTER_TYPES.has(type) ? null : NO_PLACEHOLDER);

/**
 * The image reduced to fit 100×100 (ThumbHash's bound), never enlarged, in the displayed
 * orientation. PNG, so the pixels read back are the ones rendered; at this size its encode and decode
 * cost a millisecond, and the pipeline stays the one every thumbnail goes through (same limits).
 */
const PLACEHOLDER: Transform = {
  width: 100,
  height: 100,
  fit: 'inside',
  quality: 100,
  format: 'png',
  auto: false,
  withoutEnlargement: true,
  focalPointX: undefined,
  focalPointY: undefined,
  operations: [],
};

/** The ThumbHash of a stored image, base64; throws what the engine throws (a refusal is an AppError). */
export async function thumbhashOf(config: Config, row: FileRow): Promise<string> {
  const { maxPixels, maxPasses } = config.assets;
  let streamed: StreamedSource | undefined;
  try {
    const { source, header } = await readSource(config, row, (head, h) => plannedOutput(h, shownOrientation(head, PLACEHOLDER), PLACEHOLDER, maxPixels, maxPasses), { failed: false });
    if (!(source instanceof Uint8Array)) streamed = source;
    const rendered = await transformImage(source, header, PLACEHOLDER, maxPixels, maxPasses);
    const img = PhotonImage.new_from_byteslice(rendered.body);
    try {
      return base64(rgbaToThumbHash(img.get_width(), img.get_height(), img.get_raw_pixels()));
    } finally {
      img.free();
    }
  } catch (error) {
    if (streamed && !streamed.stream.locked) await streamed.stream.cancel().catch(() => {});
    throw error;
  }
}

/**
 * Makes and stores `row`'s placeholder. An image the engine refuses gets none for good; any other
 * failure (storage, memory) leaves it waiting, for the sweep to try again.
 */
export async function fillPlaceholder(config: Config, repo: FilesRepository, row: FileRow): Promise<void> {
  let value: string;
  try {
    value = await thumbhashOf(config, row);
  } catch (error) {
    if (!refusalOf(error)) throw error;
    value = NO_PLACEHOLDER;
  }
  await repo.setThumbhash(row.id, row.uploadedOn, value);
}

/**
 * Starts making the placeholder of a file just recorded, after the answer. Losing it is harmless
 * (the sweep makes it), so `waitUntil` is enough (STYLE rule 10). The bindings come from
 * `cloudflare:workers`, so a request and the TUS Durable Object start it the same way.
 */
export function placeholderLater(row: FileRow): void {
  if (row.thumbhash !== null) return;
  const bindings = env as unknown as Bindings;
  waitUntil(
    fillPlaceholder(getConfig(bindings as unknown as Record<string, unknown>), new FilesRepository(bindings.DB), row).catch((error: Error) => {
      log('warn', 'placeholder left for the sweep', { file: row.id, reason: error.message });
    }),
  );
}

/** Placeholders one sweep run makes: each is a decode of up to ASSETS_TRANSFORM_MAX_PIXELS, so a run stays short. */
export const PLACEHOLDERS_PER_RUN = 25;

/**
 * The sweep's part: the oldest images still without a placeholder, a few a run. A failure here is
 * final (the file gets none, logged), so one bad file cannot hold the queue up, unless storage is
 * failing: then the run stops and the next one tries again.
 */
export async function backfillPlaceholders(config: Config, repo: FilesRepository, limit = PLACEHOLDERS_PER_RUN): Promise<{ made: number; failed: number }> {
  let made = 0;
  let failed = 0;
  for (const row of await repo.pendingPlaceholders(limit)) {
    try {
      await fillPlaceholder(config, repo, row);
      made++;
    } catch (error) {
      if (isTransient(error)) throw error;
      failed++;
      log('warn', 'no placeholder for this file', { file: row.id, reason: (error as Error).message });
      await repo.setThumbhash(row.id, row.uploadedOn, NO_PLACEHOLDER);
    }
  }
  return { made, failed };
}
