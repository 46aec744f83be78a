import { Consumer, type ConsumedRecord } from "../client/consumer.ts";
import { intArg, parse, required } from "./args.ts";
import { UsageError } from "./output.ts";

const text = (b: Uint8Array | null) => (b === null ? "null" : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8"));

/** Prints records as kafka-console-consumer.sh does, until --max-messages, --timeout-ms or Ctrl-C. */
export async function consumeCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    topic: { type: "string" },
    "from-beginning": { type: "boolean" },
    partition: { type: "string" },
    offset: { type: "string" },
    "max-messages": { type: "string" },
    "print-key": { type: "boolean" },
    "print-offset": { type: "boolean" },
    "timeout-ms": { type: "string" },
  });
  const topic = required(values.topic, "topic");
  const maxMessages = intArg(values["max-messages"], "max-messages", 1) ?? Infinity;
  const timeoutMs = intArg(values["timeout-ms"], "timeout-ms", 1);
  const partition = intArg(values.partition, "partition");
  if (values.offset !== undefined && partition === undefined) throw new UsageError("--offset needs --partition");
  const start = values["from-beginning"] ? "earliest" : "latest";
  const consumer = new Consumer({ ...(values.url === undefined ? {} : { url: values.url }), autoOffsetReset: start });
  if (partition === undefined) {
    await consumer.assignTopic(topic, start);
  } else {
    consumer.assign([{ topic, partition }]);
    const at = values.offset ?? start;
    await consumer.seek({ topic, partition }, at === "earliest" || at === "latest" ? at : (intArg(at, "offset") as number));
  }
  let stopped = false;
  const stop = () => (stopped = true);
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let count = 0;
  let lastRecordAt = Date.now();
  try {
    while (!stopped && count < maxMessages) {
      const records = await consumer.poll({ maxWaitMs: 500 });
      for (const r of records) {
        if (count >= maxMessages) break;
        process.stdout.write(format(r, values["print-key"] === true, values["print-offset"] === true));
        count++;
      }
      if (records.length > 0) lastRecordAt = Date.now();
      else if (timeoutMs !== undefined && Date.now() - lastRecordAt >= timeoutMs) break;
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
  process.stderr.write(`Processed a total of ${count} messages\n`);
  return 0;
}

function format(r: ConsumedRecord, printKey: boolean, printOffset: boolean): string {
  let line = "";
  if (printOffset) line += `Partition:${r.partition}\tOffset:${r.offset}\t`;
  if (printKey) line += `${text(r.key)}\t`;
  return `${line}${text(r.value)}\n`;
}
