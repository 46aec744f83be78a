import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";

/** Where a request fails: before it reaches storage, or after it took effect (answer lost). */
export type Fault = "error-before" | "error-after" | "hang-before" | "hang-after";

export interface RequestInfo {
  readonly command: string;
  readonly input: Record<string, unknown>;
}

/**
 * SDK middleware for tests only: asks `plan` about each request and fails or holds it.
 * Held requests wait until `releaseAll()`; thrown faults look like a client-side timeout.
 */
export function injectFaults(client: DynamoDBClient | S3Client, plan: (req: RequestInfo) => Fault | undefined) {
  const held: (() => void)[] = [];
  let hits = 0;
  const hold = () => new Promise<void>((r) => held.push(r));
  const timeout = () => Object.assign(new Error("injected timeout"), { name: "TimeoutError" });
  (client as DynamoDBClient).middlewareStack.add(
    (next, context) => async (args) => {
      const fault = plan({ command: String(context.commandName), input: args.input as Record<string, unknown> });
      if (fault) hits++;
      if (fault === "error-before") throw timeout();
      if (fault === "hang-before") await hold();
      const result = await next(args);
      if (fault === "error-after") throw timeout();
      if (fault === "hang-after") await hold();
      return result;
    },
    { step: "initialize", name: `faults${Math.random()}` },
  );
  return {
    releaseAll: () => held.splice(0).forEach((r) => r()),
    get held() {
      return held.length;
    },
    get hits() {
      return hits;
    },
  };
}

/** What kind of Seglog request an SDK call is, by command and key. */
export function stepOf(req: RequestInfo): "reserve" | "claim" | "put" | "commit" | "other" {
  const key = req.input["Key"] as { sk?: { S?: string } } | undefined;
  const item = req.input["Item"] as { st?: { S?: string } } | undefined;
  if (req.command === "UpdateItemCommand" && key?.sk?.S === "HEAD" && String(req.input["UpdateExpression"]).startsWith("ADD nextSeq")) return "reserve";
  if (req.command === "UpdateItemCommand" && key?.sk?.S?.startsWith("PR#")) return "claim";
  if (req.command === "PutObjectCommand") return "put";
  if (req.command === "PutItemCommand" && item?.st?.S === "C") return "commit";
  return "other";
}
