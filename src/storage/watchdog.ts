/**
 * An inactivity timer that aborts a fetch. Armed while waiting for a response, re-armed by every
 * chunk that flows through `tap()`, stopped when the stream ends. This gives Directus's
 * CONNECTION_TIMEOUT / SOCKET_TIMEOUT meaning inside a Worker, where there is no socket to configure.
 */
export class Watchdog {
  readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private firedAfter: number | undefined;

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The timeout that fired, in ms, or undefined. */
  get fired(): number | undefined {
    return this.firedAfter;
  }

  arm(ms: number): void {
    this.stop();
    this.timer = setTimeout(() => {
      this.firedAfter = ms;
      this.controller.abort(new Error(`no progress for ${ms} ms`));
    }, ms);
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * A request body that re-arms the timer on each chunk storage takes, then stays armed for the
   * answer. Pulled straight through: no queue of its own, one hop less per chunk than `tap()`'s
   * TransformStream on the way of every TUS part.
   */
  watchBody(body: ReadableStream<Uint8Array>, ms: number): ReadableStream<Uint8Array> {
    const reader = body.getReader();
    return new ReadableStream<Uint8Array>(
      {
        start: () => this.arm(ms),
        pull: async (controller) => {
          const next = await reader.read();
          this.arm(ms);
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        },
        cancel: (reason) => reader.cancel(reason),
      },
      { highWaterMark: 0 },
    );
  }

  /**
   * A pass-through stream for a response body that re-arms the timer on each chunk and stops it at
   * the end.
   */
  tap(ms: number): TransformStream<Uint8Array, Uint8Array> {
    return new TransformStream({
      start: () => this.arm(ms),
      transform: (chunk, controller) => {
        this.arm(ms);
        controller.enqueue(chunk);
      },
      flush: () => this.stop(),
    });
  }
}
