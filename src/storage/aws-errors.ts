import { SeglogError, isSeglogError } from "../core/errors.ts";

const THROTTLE_NAMES = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "SlowDown",
  "ServiceUnavailable",
  "Throttling",
]);

/** True when DynamoDB refused a write because its condition did not hold. */
export function isConditionFailed(e: unknown): boolean {
  return e instanceof Error && e.name === "ConditionalCheckFailedException";
}

/**
 * Maps what the AWS SDK throws (after its own retries) onto Seglog's error kinds:
 * throttling → `Throttled` (429, or 503 for S3 SlowDown), transient faults → retriable `Internal`.
 */
export function toSeglogError(e: unknown): SeglogError {
  if (isSeglogError(e)) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const meta = (err as { $metadata?: { httpStatusCode?: number }; $retryable?: unknown }).$metadata;
  const status = meta?.httpStatusCode;
  if (THROTTLE_NAMES.has(err.name) || status === 429 || status === 503) {
    const unavailable = err.name === "SlowDown" || err.name === "ServiceUnavailable" || status === 503;
    return new SeglogError("Throttled", `Storage is throttling requests (${err.name}); retry later`, {
      code: unavailable ? "ServiceUnavailable" : "Throttled",
      retryAfterMs: 1000,
      cause: err,
    });
  }
  const transient =
    (err as { $retryable?: unknown }).$retryable !== undefined ||
    err.name === "TimeoutError" ||
    (status !== undefined && status >= 500) ||
    /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up/i.test(err.message);
  return new SeglogError("Internal", `Storage request failed: ${err.name}: ${err.message}`, {
    retriable: transient,
    cause: err,
  });
}
