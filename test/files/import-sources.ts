import { vi } from 'vitest';

/**
 * Stands in for the web an import fetches from (no network in tests): requests to `host` are
 * answered by `answer`; everything else (the S3 server) goes through. Every request is recorded, so
 * a refused address the guard let through would be seen. Call in `beforeEach`, with
 * `vi.restoreAllMocks()` in `afterEach`.
 */
export function stubImportSources(host: string, answer: (url: URL, request: Request) => Response | Promise<Response>): string[] {
  const fetched: string[] = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    const url = new URL(request.url);
    fetched.push(url.href);
    return url.hostname === host ? answer(url, request) : real(request);
  });
  return fetched;
}
