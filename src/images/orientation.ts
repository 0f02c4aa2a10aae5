import ExifReader from 'exifreader';
import { isTiff, tiffOrientation } from './tiff-ifd';

/** EXIF sits in the first segments of a file: parsing more only costs time. */
const EXIF_WINDOW = 128 * 1024;

/** The EXIF Orientation (1–8) of an image's bytes; 1 when absent or unreadable. */
export function exifOrientation(bytes: Uint8Array): number {
  // A TIFF's orientation is in its own directory, often at the end, past the window read below.
  if (isTiff(bytes)) return tiffOrientation(bytes);
  try {
    const end = bytes.byteOffset + Math.min(bytes.byteLength, EXIF_WINDOW);
    const buffer = bytes.buffer.slice(bytes.byteOffset, end) as ArrayBuffer;
    const tags = ExifReader.load(buffer, { expanded: true, excludeTags: { xmp: true, iptc: true, icc: true, mpf: true, thumbnail: true, makerNotes: true } });
    const value = tags.exif?.Orientation?.value;
    return typeof value === 'number' && value >= 1 && value <= 8 ? value : 1;
  } catch {
    return 1;
  }
}
