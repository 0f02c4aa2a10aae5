/** Stream helpers shared by the workerd tests and the Node ones (no runtime-specific imports). */

/** A stream that yields `data` in chunks of `chunk` bytes. */
export function streamOf(data: Uint8Array, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= data.byteLength) return controller.close();
      controller.enqueue(data.slice(at, at + chunk));
      at += chunk;
    },
  });
}
