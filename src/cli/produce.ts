import { createInterface } from "node:readline";
import { Producer, type RecordMetadata } from "../client/producer.ts";
import { parse, required } from "./args.ts";

/** One record per stdin line; with `--key-separator`, the part before it is the key. */
export async function produceCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    topic: { type: "string" },
    "key-separator": { type: "string" },
    "linger-ms": { type: "string" },
  });
  const topic = required(values.topic, "topic");
  const separator = values["key-separator"];
  const producer = new Producer({
    ...(values.url === undefined ? {} : { url: values.url }),
    lingerMs: values["linger-ms"] === undefined ? 10 : Number(values["linger-ms"]),
  });
  const pending: Promise<RecordMetadata>[] = [];
  let failed: unknown;
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    let key: string | null = null;
    let value = line;
    if (separator !== undefined) {
      const at = line.indexOf(separator);
      if (at >= 0) {
        key = line.slice(0, at);
        value = line.slice(at + separator.length);
      }
    }
    pending.push(producer.send(topic, { key, value }));
    if (pending.length >= 10_000) await settle(pending.splice(0)).catch((e) => (failed ??= e));
    if (failed) break;
  }
  await producer.close();
  await settle(pending).catch((e) => (failed ??= e));
  if (failed) throw failed;
  return 0;
}

async function settle(ps: Promise<RecordMetadata>[]): Promise<void> {
  const results = await Promise.allSettled(ps);
  const rejected = results.find((r) => r.status === "rejected");
  if (rejected) throw (rejected as PromiseRejectedResult).reason;
}
