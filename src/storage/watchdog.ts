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
   * A pass-through stream that re-arms the timer on each chunk. At the end it stops the timer (a
   * response body), or keeps it armed for the answer that follows (a request body).
   */
  tap(ms: number, atEnd: 'stop' | 'await-response' = 'stop'): TransformStream<Uint8Array, Uint8Array> {
    return new TransformStream({
      start: () => this.arm(ms),
      transform: (chunk, controller) => {
        this.arm(ms);
        controller.enqueue(chunk);
      },
      flush: () => (atEnd === 'stop' ? this.stop() : this.arm(ms)),
    });
  }
}
