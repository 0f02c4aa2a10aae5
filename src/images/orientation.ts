import ExifReader from 'exifreader';

/** The EXIF Orientation (1–8) of an image's bytes; 1 when absent or unreadable. */
export function exifOrientation(bytes: Uint8Array): number {
  try {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const tags = ExifReader.load(buffer, { expanded: true, excludeTags: { xmp: true, iptc: true, icc: true, mpf: true, thumbnail: true, makerNotes: true } });
    const value = tags.exif?.Orientation?.value;
    return typeof value === 'number' && value >= 1 && value <= 8 ? value : 1;
  } catch {
    return 1;
  }
}
