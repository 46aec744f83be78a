/**
 * Counts what AWS would bill, from the SDK: calls by command, DynamoDB read and write units, and
 * S3 bytes moved. A middleware on every S3 and DynamoDB client of this process (the handlers
 * build their own clients in `contextFromEnv`, exactly as in Lambda, so the middleware is added
 * on each client's first `send` rather than by changing how they are built).
 *
 * DynamoDB units come from `ConsumedCapacity`: the middleware asks for it (`INDEXES`, so that LSI
 * writes count) and DynamoDB Local returns it. Where an answer has none (dynalite, or a failed
 * conditional write, which AWS still bills), the call counts one unit and `estimatedUnits` says so.
 *
 * Calls are tallied per scope: code run inside `callScope.run("produce", …)` (the bench runs each
 * handler invocation so) is counted under "produce", whatever clients it uses; the rest under "bench".
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";

/** Which function (or "bench") the running code belongs to. */
export const callScope = new AsyncLocalStorage<string>();

export interface CallTally {
  /** Calls by SDK command name, e.g. `PutObjectCommand`. */
  readonly calls: Record<string, number>;
  /** Σ milliseconds per command, from the call to its answer (retries included). */
  readonly callMs: Record<string, number>;
  readonly readUnits: number;
  readonly writeUnits: number;
  /** Calls whose units were counted as 1 because DynamoDB reported none. */
  readonly estimatedUnits: number;
  readonly bytesPut: number;
  readonly bytesGot: number;
}

const READS = new Set(["GetItemCommand", "QueryCommand", "ScanCommand", "BatchGetItemCommand", "TransactGetItemsCommand"]);
const WRITES = new Set(["PutItemCommand", "UpdateItemCommand", "DeleteItemCommand", "BatchWriteItemCommand", "TransactWriteItemsCommand"]);

interface Capacity {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

function unitsOf(consumed: unknown): number | undefined {
  const list = Array.isArray(consumed) ? (consumed as Capacity[]) : consumed ? [consumed as Capacity] : [];
  if (list.length === 0) return undefined;
  return list.reduce((sum, c) => sum + (c.CapacityUnits ?? (c.ReadCapacityUnits ?? 0) + (c.WriteCapacityUnits ?? 0)), 0);
}

type Send = (this: { middlewareStack: DynamoDBClient["middlewareStack"] }, ...args: unknown[]) => unknown;

interface MutableTally {
  calls: Record<string, number>;
  callMs: Record<string, number>;
  readUnits: number;
  writeUnits: number;
  estimatedUnits: number;
  bytesPut: number;
  bytesGot: number;
}

const emptyTally = (): MutableTally => ({ calls: {}, callMs: {}, readUnits: 0, writeUnits: 0, estimatedUnits: 0, bytesPut: 0, bytesGot: 0 });

export class SdkCalls {
  private tallies = new Map<string, MutableTally>();
  private readonly counted = new WeakSet<object>();

  /** Patches the S3 and DynamoDB clients of this process; the returned function undoes it. */
  install(): () => void {
    const restores = [DynamoDBClient, S3Client].map((Client) => {
      const proto = Client.prototype as unknown as { send: Send };
      const hadOwn = Object.prototype.hasOwnProperty.call(proto, "send");
      const original = proto.send;
      const tally = this;
      proto.send = function (this: { middlewareStack: DynamoDBClient["middlewareStack"] }, ...args: unknown[]) {
        tally.attach(this, Client === DynamoDBClient);
        return original.apply(this, args);
      };
      return () => {
        if (hadOwn) proto.send = original;
        else delete (proto as { send?: Send }).send;
      };
    });
    return () => restores.forEach((r) => r());
  }

  /** The counts per scope since the last `take`, and a fresh start. */
  take(): Record<string, CallTally> {
    const out = Object.fromEntries(this.tallies);
    this.tallies = new Map();
    return out;
  }

  /** Adds the counts of scope `from` to scope `to` (e.g. once an invocation's outcome is known). */
  moveScope(from: string, to: string): void {
    const t = this.tallies.get(from);
    if (!t) return;
    this.tallies.delete(from);
    const into = this.tallies.get(to);
    if (!into) {
      this.tallies.set(to, t);
      return;
    }
    for (const [name, n] of Object.entries(t.calls)) into.calls[name] = (into.calls[name] ?? 0) + n;
    for (const [name, ms] of Object.entries(t.callMs)) into.callMs[name] = (into.callMs[name] ?? 0) + ms;
    into.readUnits += t.readUnits;
    into.writeUnits += t.writeUnits;
    into.estimatedUnits += t.estimatedUnits;
    into.bytesPut += t.bytesPut;
    into.bytesGot += t.bytesGot;
  }

  private tally(): MutableTally {
    const scope = callScope.getStore() ?? "bench";
    let t = this.tallies.get(scope);
    if (!t) this.tallies.set(scope, (t = emptyTally()));
    return t;
  }

  private attach(client: { middlewareStack: DynamoDBClient["middlewareStack"] }, dynamo: boolean): void {
    if (this.counted.has(client)) return;
    this.counted.add(client);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        let name = String(context.commandName ?? "unknown");
        const t = this.tally();
        const input = args.input as Record<string, unknown>;
        const unitsKind = !dynamo ? undefined : READS.has(name) ? "read" : WRITES.has(name) ? "write" : undefined;
        if (unitsKind) input["ReturnConsumedCapacity"] ??= "INDEXES";
        if (name === "PutObjectCommand") t.bytesPut += Number(input["ContentLength"] ?? 0);
        let units: number | undefined;
        const startedMs = performance.now();
        try {
          const result = await next(args);
          const output = result.output as unknown as Record<string, unknown>;
          // A presigned URL (SegmentObjects.presignGet) is built by the client but never sent.
          if ((output["$metadata"] as { httpStatusCode?: number } | undefined)?.httpStatusCode === undefined) name = `${name} presigned`;
          if (name === "GetObjectCommand") t.bytesGot += Number(output["ContentLength"] ?? 0);
          units = unitsOf(output["ConsumedCapacity"]);
          return result;
        } finally {
          t.calls[name] = (t.calls[name] ?? 0) + 1;
          t.callMs[name] = (t.callMs[name] ?? 0) + performance.now() - startedMs;
          if (unitsKind) {
            if (units === undefined) t.estimatedUnits++;
            if (unitsKind === "read") t.readUnits += units ?? 1;
            else t.writeUnits += units ?? 1;
          }
        }
      },
      { step: "initialize", name: "benchSdkCalls" },
    );
  }
}
