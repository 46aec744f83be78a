import { createInterface } from "node:readline";
import { Producer } from "../client/producer.ts";
import { isSeglogError } from "../core/errors.ts";
import { intArg, parse, required } from "./args.ts";

/**
 * One record per stdin line; with `--key-separator`, the part before it is the key. A failed
 * send is reported on stderr as it happens, by line number (the first of each error; the server
 * down fails every line alike), and the command goes on with the rest; at the end it says how many
 * lines each error cost, first and last, and exits 1.
 */
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
    lingerMs: intArg(values["linger-ms"], "linger-ms") ?? 10,
  });
  const pending: Promise<unknown>[] = [];
  const failures = new Map<string, { first: number; last: number; count: number }>();
  let lineNumber = 0;
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
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
        const why = describe(e);
        const seen = failures.get(why);
        if (seen === undefined) {
          failures.set(why, { first: at, last: at, count: 1 });
          process.stderr.write(`line ${at}: not sent: ${why}\n`);
        } else {
          seen.count++;
          seen.first = Math.min(seen.first, at);
          seen.last = Math.max(seen.last, at);
        }
      }),
    );
    if (pending.length >= 10_000) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  await producer.close();
  if (failures.size === 0) return 0;
  for (const [why, f] of failures) {
    process.stderr.write(`${f.count} of ${lineNumber} records not sent${f.count > 1 ? ` (lines ${f.first} to ${f.last})` : ""}: ${why}\n`);
  }
  return 1;
}

const describe = (e: unknown): string => (isSeglogError(e) ? `${e.message} (${e.kind}${e.code === undefined ? "" : `/${e.code}`})` : String(e));
