import { AppError } from '../src/errors/app-error';
import { readDimensions } from '../src/images/dimensions';
import { transformImage } from '../src/images/pipeline';
import type { Transform } from '../src/images/transform';
import type { Outcome } from './outcome.ts';

/**
 * One fuzz case through the same pipeline `/assets` runs on a miss, minus storage: the header read
 * (a file whose header runs past its bytes is refused, as the route does after its bounded reads),
 * then transformImage with the default pixel limit. Runs in a Node worker thread so that a runaway
 * case can be stopped from outside.
 */
const MAX_PIXELS = 4_000_000;

/** The transforms each case is tried with: a 1/8 shrink-on-load (the scaled decoder), a full decode, each encoder. */
export const TRANSFORMS: Transform[] = [
  { width: 12, height: 12, fit: 'cover', quality: 75, format: 'jpg', auto: false, withoutEnlargement: false, focalPointX: undefined, focalPointY: undefined, operations: [] },
  { width: 40, height: undefined, fit: 'inside', quality: 80, format: 'png', auto: false, withoutEnlargement: false, focalPointX: undefined, focalPointY: undefined, operations: [] },
  { width: 500, height: 500, fit: 'contain', quality: 60, format: 'webp', auto: false, withoutEnlargement: true, focalPointX: undefined, focalPointY: undefined, operations: [] },
];

export async function renderCase(bytes: Uint8Array, transform: number): Promise<Outcome> {
  try {
    const header = readDimensions(bytes);
    if (!header || 'needBytes' in header) return { kind: 'refused', status: 422, code: 'UNPROCESSABLE_IMAGE' };
    const out = await transformImage(bytes, header, TRANSFORMS[transform % TRANSFORMS.length] as Transform, MAX_PIXELS);
    return { kind: 'image', width: out.width, height: out.height };
  } catch (error) {
    if (error instanceof AppError && error.status >= 400 && error.status < 500) return { kind: 'refused', status: error.status, code: error.code };
    return { kind: 'crash', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}
