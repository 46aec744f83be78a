import { Admin } from "../client/admin.ts";
import { Consumer, type ConsumedRecord, type TopicPartition } from "../client/consumer.ts";
import { GroupConsumer } from "../client/group-consumer.ts";
import { sleep } from "../client/http.ts";
import { isSeglogError } from "../core/errors.ts";
import { intArg, parse, readFromArg, required } from "./args.ts";
import { UsageError } from "./output.ts";
import { MAX_TIMER_MS } from "../client/options.ts";

/** How long a console consumer waits between polls while Seglog does not answer. */
const OUTAGE_RETRY_MS = 1_000;

/** How often a consumer of all of a topic's partitions looks for partitions added since. */
const NEW_PARTITIONS_CHECK_MS = 10_000;

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
    group: { type: "string" },
    "read-from": { type: "string" },
  });
  const readFrom = readFromArg(values["read-from"]);
  const topic = required(values.topic, "topic");
  const maxMessages = intArg(values["max-messages"], "max-messages", 1) ?? Infinity;
  const timeoutMs = intArg(values["timeout-ms"], "timeout-ms", 1, MAX_TIMER_MS);
  const partition = intArg(values.partition, "partition");
  if (values.offset !== undefined && partition === undefined) throw new UsageError("--offset needs --partition");
  if (values.offset !== undefined && values["from-beginning"]) throw new UsageError("--offset and --from-beginning cannot be used together");
  const start = values["from-beginning"] ? "earliest" : "latest";
  const print = (r: ConsumedRecord) => process.stdout.write(format(r, values["print-key"] === true, values["print-offset"] === true));
  if (values.group !== undefined) {
    if (partition !== undefined) throw new UsageError("--partition cannot be used with --group");
    return consumeAsGroupMember({ url: values.url, readFrom, topic, group: required(values.group, "group"), start, maxMessages, timeoutMs, print });
  }
  const consumer = new Consumer({ ...(values.url === undefined ? {} : { url: values.url }), autoOffsetReset: start, readFrom });
  if (partition === undefined) {
    await consumer.assignTopic(topic, start);
  } else {
    consumer.assign([{ topic, partition }]);
    const at = values.offset ?? start;
    await consumer.seek({ topic, partition }, at === "earliest" || at === "latest" ? at : (intArg(at, "offset") as number));
  }
  // Ctrl-C ends a poll under way too, its retries through an outage included.
  const stopping = new AbortController();
  const stop = () => stopping.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let count = 0;
  let lastRecordAt = Date.now();
  let checkedAt = Date.now();
  let waiting = false;
  let outage: unknown;
  try {
    while (!stopping.signal.aborted && count < maxMessages) {
      if (partition === undefined && Date.now() - checkedAt >= NEW_PARTITIONS_CHECK_MS) {
        checkedAt = Date.now();
        await readNewPartitions(consumer, topic, stopping.signal).catch((e: unknown) => {
          if (stopping.signal.aborted) return;
          if (!(isSeglogError(e) && e.retriable)) throw e; // else looked for again next time
        });
      }
      let records: ConsumedRecord[];
      try {
        records = await consumer.poll({ maxWaitMs: 500, signal: stopping.signal });
      } catch (e) {
        // An outage (the API restarted, say) is waited out, as Kafka's console consumer does: a
        // failed poll moves no partition, so nothing is skipped or printed twice.
        if (stopping.signal.aborted || !(isSeglogError(e) && e.retriable)) throw e;
        if (!waiting) process.stderr.write(`[${new Date().toISOString()}] WARN ${e.message}; retrying until it answers (Ctrl-C to stop)\n`);
        waiting = true;
        // --timeout-ms during an outage: not an empty topic, so it fails (exit 1) naming why.
        if (timeoutMs !== undefined && Date.now() - lastRecordAt >= timeoutMs) {
          outage = e;
          break;
        }
        await sleep(OUTAGE_RETRY_MS, stopping.signal);
        continue;
      }
      if (waiting) process.stderr.write(`[${new Date().toISOString()}] INFO Seglog answers again\n`);
      waiting = false;
      for (const r of records) {
        if (count >= maxMessages) break;
        print(r);
        count++;
      }
      if (records.length > 0) lastRecordAt = Date.now();
      else if (timeoutMs !== undefined && Date.now() - lastRecordAt >= timeoutMs) break;
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    consumer.close(); // and the fetches it keeps under way, so that the process can end
  }
  process.stderr.write(`Processed a total of ${count} messages\n`);
  if (outage !== undefined) throw outage;
  return 0;
}

/**
 * Reads the partitions the topic has gained since, from their start: each of their records came
 * after this consumer began. Kafka's console consumer subscribes, and finds them the same way
 * when it next reads the topic's metadata.
 */
async function readNewPartitions(consumer: Consumer, topic: string, signal: AbortSignal): Promise<void> {
  const have = consumer.assignment().length;
  const { partitions } = await consumer.admin.topicMetadata(topic, { signal });
  if (partitions <= have) return;
  // Their start first, so that a failure here leaves them to the next look, not read from the end.
  const added = await Promise.all(
    Array.from({ length: partitions - have }, async (_, i) => {
      const partition = have + i;
      return { topic, partition, offset: (await consumer.admin.offsetFor(topic, partition, "earliest")).offset };
    }),
  );
  consumer.assign([...consumer.assignment(), ...added]);
}

function format(r: ConsumedRecord, printKey: boolean, printOffset: boolean): string {
  let line = "";
  if (printOffset) line += `Partition:${r.partition}\tOffset:${r.offset}\t`;
  if (printKey) line += `${text(r.key)}\t`;
  return `${line}${text(r.value)}\n`;
}

interface GroupRun {
  readonly url: string | undefined;
  readonly readFrom: "storage" | "api";
  readonly topic: string;
  readonly group: string;
  readonly start: "earliest" | "latest";
  readonly maxMessages: number;
  readonly timeoutMs: number | undefined;
  readonly print: (r: ConsumedRecord) => void;
}

const names = (tps: TopicPartition[]) => tps.map((tp) => `${tp.topic}-${tp.partition}`).join(", ");

/**
 * As a member of a consumer group: prints the records of the partitions it is given, commits
 * after printing (at least once), and leaves the group on Ctrl-C, --max-messages or --timeout-ms.
 * Assignment changes go to stderr so that the records on stdout stay clean.
 */
async function consumeAsGroupMember(run: GroupRun): Promise<number> {
  const url = run.url === undefined ? {} : { url: run.url };
  await new Admin(url).topicMetadata(run.topic); // an unknown topic fails now, not silently later
  const note = (line: string) => {
    process.stderr.write(`${line}\n`);
  };
  const consumer = new GroupConsumer({
    ...url,
    groupId: run.group,
    autoOffsetReset: run.start,
    readFrom: run.readFrom,
    onAssigned: (tps) => note(`Assigned partitions: ${names(tps)}`),
    onRevoked: (tps) => note(`Revoked partitions: ${names(tps)}`),
    onLost: (tps) => note(`Lost partitions: ${names(tps)}`),
  });
  consumer.subscribe([run.topic]);
  let count = 0;
  let lastRecordAt = Date.now();
  const stop = () => void consumer.close();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const idle =
    run.timeoutMs === undefined
      ? undefined
      : setInterval(() => {
          if (Date.now() - lastRecordAt >= (run.timeoutMs ?? 0)) stop();
        }, Math.min(run.timeoutMs, 250));
  try {
    await consumer.run({
      eachRecord: (r) => {
        run.print(r);
        count++;
        lastRecordAt = Date.now();
        // close() hands out nothing more, so exactly maxMessages are printed and committed.
        if (count >= run.maxMessages) stop();
      },
    });
  } finally {
    clearInterval(idle);
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
  process.stderr.write(`Processed a total of ${count} messages\n`);
  return 0;
}
