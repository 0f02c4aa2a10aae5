import type { S3Target } from '../scripts/s3-target-type.ts';
declare module 'vitest' {
  interface ProvidedContext {
    s3: S3Target;
    /** A TCP port that accepts connections and never answers: for timeout tests. */
    silentPort: number;
    /** scripts/fault-proxy.ts in front of the S3 server: the `faulty` storage location's endpoint. */
    faultProxy: string;
    /** test/fixtures/* as base64, by file name (workerd cannot read the test folder). */
    fixtures: Record<string, string>;
    /** scripts/oembed-stand-in.ts: its port, the key its Data API takes, its video ids; and a loopback port nothing listens on. */
    oembedStandIn: { port: number; closedPort: number; apiKey: string; videos: typeof import('../scripts/oembed-stand-in.ts').VIDEOS };
  }
}
