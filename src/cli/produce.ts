import { createInterface } from "node:readline";
import { DEFAULT_DELIVERY_TIMEOUT_MS, Producer } from "../client/producer.ts";
import { isSeglogError } from "../core/errors.ts";
import { intArg, parse, required } from "./args.ts";
import { UsageError } from "./output.ts";
import { MAX_TIMER_MS } from "../client/options.ts";

/**
 * One record per stdin line; with `--key-separator`, the part before it is the key. A failed
 * send is reported on stderr as it happens, by line number (the first 10 of each error: the
 * server down fails every line alike), and the command goes on with the rest; at the end it says
 * how many lines each error cost, the first and the last of them, and exits 1.
 */
export async function produceCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    topic: { type: "string" },
    "key-separator": { type: "string" },
    "linger-ms": { type: "string" },
    "delivery-timeout-ms": { type: "string" },
  });
  const topic = required(values.topic, "topic");
  const separator = values["key-separator"];
  if (separator === "") throw new UsageError("--key-separator must not be empty");
  const lingerMs = intArg(values["linger-ms"], "linger-ms", 0, MAX_TIMER_MS) ?? 10;
  // How long a record may take, outages ridden out included (Kafka's delivery.timeout.ms, 120 s).
  const deliveryTimeoutMs = intArg(values["delivery-timeout-ms"], "delivery-timeout-ms", 1, MAX_TIMER_MS);
  if ((deliveryTimeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS) <= lingerMs) {
    throw new UsageError(`--delivery-timeout-ms (${deliveryTimeoutMs ?? `${DEFAULT_DELIVERY_TIMEOUT_MS}, the default`}) must be above --linger-ms (${lingerMs}), as Kafka's delivery.timeout.ms above linger.ms`);
  }
  const producer = new Producer({
    ...(values.url === undefined ? {} : { url: values.url }),
    lingerMs,
    ...(deliveryTimeoutMs === undefined ? {} : { deliveryTimeoutMs }),
  });
  const pending: Promise<unknown>[] = [];
  /** By outcome, kind and code (by message where there is no code), each with its first line's
   * message: one outage's messages differ in their details (how long a batch waited, say), and
   * would each take a line of the summary. */
  const failures = new Map<string, { first: number; last: number; count: number; why: string }>();
  let lineNumber = 0;
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  // Ctrl-C stops reading and sends what was read, as Kafka's console producer closes its
  // producer on the way out; a second one exits at once.
  let interrupted: number | undefined;
  const stop = (signal: NodeJS.Signals) => {
    if (interrupted !== undefined) process.exit(interrupted);
    interrupted = signal === "SIGINT" ? 130 : 143; // 128 + the signal's number, as the shell says
    process.stderr.write("Sending the lines read so far (Ctrl-C again to exit at once)\n");
    lines.close();
    process.stdin.destroy();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    for await (const line of lines) {
      const at = ++lineNumber;
      let key: string | null = null;
      let value = line;
      if (separator !== undefined) {
        const cut = line.indexOf(separator);
        if (cut >= 0) {
          key = line.slice(0, cut);
          value = line.slice(cut + separator.length);
        }
      }
      pending.push(
        producer.send(topic, { key, value }).catch((e: unknown) => {
          const why = `${outcome(e)}: ${describe(e)}`;
          const key = isSeglogError(e) && e.code !== undefined ? `${outcome(e)} ${kindOf(e)}` : why; // errors without a code: by message
          const seen = failures.get(key) ?? { first: at, last: at, count: 0, why };
          failures.set(key, seen);
          seen.count++;
          if (at < seen.first) [seen.first, seen.why] = [at, why];
          seen.last = Math.max(seen.last, at);
          if (seen.count <= NAMED_PER_ERROR) {
            process.stderr.write(`line ${at}: ${why}${seen.count === NAMED_PER_ERROR ? " (later lines failing so are counted, not named)" : ""}\n`);
          }
        }),
      );
      if (pending.length >= 10_000) await Promise.all(pending.splice(0));
    }
    // Closing sends what still lingers at once (Kafka's close), then every send has its outcome.
    await producer.close();
    await Promise.all(pending);
    if (failures.size === 0) return interrupted ?? 0;
    for (const f of failures.values()) {
      process.stderr.write(`${f.count} of ${lineNumber} records${f.count > 1 ? ` (first line ${f.first}, last line ${f.last})` : ""} ${f.why}\n`);
    }
    return 1;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

/** Failed lines named on stderr per distinct error; the rest are counted. */
const NAMED_PER_ERROR = 10;

/**
 * What a failed line's record became. A refusal (not retriable) was never written; a record that
 * failed retriably may have been, by an attempt whose answer was lost: sending that line again
 * can store it twice, so the message says so.
 */
const outcome = (e: unknown): string => (isSeglogError(e) && !e.retriable && e.code !== "UnknownBatchOutcome" ? "refused" : "not acknowledged, and may be in the log");

const kindOf = (e: unknown): string => (isSeglogError(e) ? `${e.kind}${e.code === undefined ? "" : `/${e.code}`}` : "Error");

const describe = (e: unknown): string => (isSeglogError(e) ? `${e.message} (${kindOf(e)})` : String(e));
