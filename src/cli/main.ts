import { consumeCommand } from "./consume.ts";
import { devCommand } from "./dev.ts";
import { reportError, UsageError } from "./output.ts";
import { produceCommand } from "./produce.ts";
import { topicsCommand } from "./topics.ts";

export const USAGE = `seglog — a serverless, Kafka-style message log on AWS

Usage: seglog <command> [options]

Commands:
  dev                 Run Seglog locally: DynamoDB Local (or dynalite), s3rver and the HTTP API
                        [--port 8092] [--data-dir DIR] [--dynamo auto|dynamodb-local|dynalite]
  topics              Create, list, describe, alter and delete topics (like kafka-topics.sh)
                        --create --topic T [--partitions N] [--config k=v ...]
                        --list | --describe [--topic T] | --delete --topic T
                        --alter --topic T [--partitions N] [--config k=v ...]
  produce             Send one record per stdin line (like kafka-console-producer.sh)
                        --topic T [--key-separator SEP]
  consume             Print records (like kafka-console-consumer.sh)
                        --topic T [--from-beginning] [--partition P [--offset O|earliest|latest]]
                        [--max-messages N] [--print-key] [--print-offset] [--timeout-ms MS]

Options for every command:
  --url URL           The Seglog API (default: $SEGLOG_URL, else http://127.0.0.1:8092)
  -h, --help          Show this help
`;

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  dev: devCommand,
  topics: topicsCommand,
  produce: produceCommand,
  consume: consumeCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const run = COMMANDS[command];
  try {
    if (!run) throw new UsageError(`unknown command '${command}'`);
    return await run(rest);
  } catch (e) {
    return reportError(e);
  }
}
