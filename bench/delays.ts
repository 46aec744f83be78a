/**
 * Round trips the local stack does not have: a fixed delay added before every call a client makes
 * to the API and every S3 GET by presigned URL (both go through its transport), about what a warm
 * API Gateway + Lambda call and an in-region S3 GET add on AWS.
 */
import { nodeTransport, type Transport } from "../src/client/transport.ts";

export interface AddedDelays {
  readonly apiMs: number;
  readonly s3Ms: number;
}

/** None, and about a warm API Gateway + Lambda call and a 1 MiB S3 GET in-region. */
export const DELAYS: readonly AddedDelays[] = [
  { apiMs: 0, s3Ms: 0 },
  { apiMs: 25, s3Ms: 40 },
];

/** A transport that waits before each request. */
export function delayed({ apiMs, s3Ms }: AddedDelays): Transport {
  return async (request) => {
    const ms = request.url.searchParams.has("X-Amz-Signature") ? s3Ms : apiMs;
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    return nodeTransport(request);
  };
}
