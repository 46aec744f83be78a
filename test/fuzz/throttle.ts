/**
 * Storage throttling for tests: SDK middleware that answers a request, in place of AWS, with the
 * exception AWS sends when over capacity. It sits inside the SDK's retries, next to the wire, so
 * the SDK classifies, backs off and retries each injected error exactly as it would a real one;
 * what outlasts its attempts reaches Seglog.
 */
import { ProvisionedThroughputExceededException, ThrottlingException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3ServiceException, type S3Client } from "@aws-sdk/client-s3";
import type { RequestInfo } from "../helpers/faults.ts";

/** DynamoDB's two throttling exceptions (HTTP 400) and S3's 503 SlowDown. */
export type Throttle = "ProvisionedThroughputExceededException" | "ThrottlingException" | "SlowDown";

export interface Throttling {
  /** Requests throttled so far, by exception. */
  readonly injected: ReadonlyMap<Throttle, number>;
}

/** Throttles each request of `client` for which `plan` names an exception. */
export function throttle(client: DynamoDBClient | S3Client, plan: (req: RequestInfo) => Throttle | undefined): Throttling {
  const injected = new Map<Throttle, number>();
  type Next = (args: { input: object }) => Promise<unknown>;
  const middleware = (next: Next, context: { commandName?: string }) => async (args: { input: object }) => {
    const kind = plan({ command: String(context.commandName), input: args.input as Record<string, unknown> });
    if (kind === undefined) return next(args);
    injected.set(kind, (injected.get(kind) ?? 0) + 1);
    throw throttlingError(kind);
  };
  (client as DynamoDBClient).middlewareStack.addRelativeTo(middleware as never, {
    relation: "after",
    toMiddleware: "retryMiddleware",
    name: `throttle${Math.random()}`,
  });
  return { injected };
}

/** The exception as the SDK builds it from AWS's answer: name, `$fault`, `$metadata.httpStatusCode`. */
export function throttlingError(kind: Throttle): Error {
  const $metadata = (httpStatusCode: number) => ({ httpStatusCode, attempts: 1, totalRetryDelay: 0 });
  switch (kind) {
    case "ProvisionedThroughputExceededException":
      return new ProvisionedThroughputExceededException({
        message: "The level of configured provisioned throughput for the table was exceeded (injected)",
        $metadata: $metadata(400),
      });
    case "ThrottlingException":
      return new ThrottlingException({ message: "Rate of requests exceeds the allowed throughput (injected)", $metadata: $metadata(400) });
    case "SlowDown":
      return new S3ServiceException({ name: "SlowDown", $fault: "server", message: "Please reduce your request rate (injected)", $metadata: $metadata(503) });
  }
}
