/**
 * Round trips the local stack does not have: a fixed delay added in a client process before every
 * call to the API and every S3 GET by presigned URL (both go through `fetch`), about what a warm
 * API Gateway + Lambda call and an in-region S3 GET add on AWS.
 */
export interface AddedDelays {
  readonly apiMs: number;
  readonly s3Ms: number;
}

/** None, and about a warm API Gateway + Lambda call and a 1 MiB S3 GET in-region. */
export const DELAYS: readonly AddedDelays[] = [
  { apiMs: 0, s3Ms: 0 },
  { apiMs: 25, s3Ms: 40 },
];

/** Wraps this process's `fetch` to wait before each request. */
export function addDelays({ apiMs, s3Ms }: AddedDelays): void {
  if (apiMs <= 0 && s3Ms <= 0) return;
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input instanceof Request ? input.url : input);
    await new Promise((r) => setTimeout(r, url.includes("X-Amz-Signature=") ? s3Ms : apiMs));
    return realFetch(input, init);
  }) as typeof fetch;
}
