import { consumeCommand } from "./consume.ts";
import { costCommand } from "./cost.ts";
import { devCommand } from "./dev.ts";
import { groupsCommand } from "./groups.ts";
import { maintenanceCommand } from "./maintenance.ts";
import { reportError, UsageError } from "./output.ts";
import { perfCommand } from "./perf.ts";
import { produceCommand } from "./produce.ts";
import { topicsCommand } from "./topics.ts";

export const USAGE = `seglog — a serverless, Kafka-style message log on AWS

Usage: seglog <command> [options]

Commands:
  dev                 Run Seglog locally: DynamoDB Local (or dynalite), s3rver and the HTTP API
                        [--port 8092] [--data-dir DIR] [--dynamo auto|dynamodb-local|dynalite]
                        [--maintenance-interval-ms MS (60000; 0 turns it off)]
  topics              Create, list, describe, alter and delete topics (like kafka-topics.sh)
                        --create --topic T [--partitions N] [--config k=v ...]
                        --list | --describe [--topic T] | --delete --topic T
                        --alter --topic T [--partitions N] [--config k=v ...]
  produce             Send one record per stdin line (like kafka-console-producer.sh)
                        --topic T [--key-separator SEP] [--linger-ms MS]
                        [--delivery-timeout-ms MS (120000: how long a record rides out an outage)]
                        (a failed record is named on stderr by line; the command goes on, then exits 1)
  consume             Print records (like kafka-console-consumer.sh)
                        --topic T [--from-beginning] [--partition P [--offset O|earliest|latest]]
                        [--max-messages N] [--print-key] [--print-offset] [--timeout-ms MS]
                        [--group G]  (as a member of consumer group G; Ctrl-C leaves it)
                        [--read-from storage|api]  (S3 directly, the default, or through the API)
  groups              List, describe and reset consumer groups (like kafka-consumer-groups.sh)
                        --list | --describe --group G [--members]
                        --reset-offsets --group G --topic T --to-earliest|--to-latest|
                          --to-datetime ISO|--to-offset N [--dry-run|--execute]
  perf produce        Producer load test (like kafka-producer-perf-test.sh)
                        --topic T --num-records N --record-size B --throughput -1|R [--batch-bytes B]
                        [--linger-ms MS] [--concurrency C] [--producer-props k=v ...] [--print-metrics]
                        [--warmup-records W]  (the records after the first W get a steady-state summary too)
  perf consume        Consumer load test (like kafka-consumer-perf-test.sh)
                        --topic T --messages N [--group G] [--fetch-size B] [--timeout-ms MS] [--from-latest]
                        [--read-from storage|api] [--print-metrics]
  cost                $/month and $/GB of a workload on Seglog, Kinesis on-demand and MSK Serverless
                        --mb-per-sec R --record-bytes B --batch-bytes S --consumer-groups G --retention-days D
                        [--partitions N] [--batches-per-request K] [--fetch-interval-ms MS] [--consumers-per-group C]
                        [--segment-bytes B]
                        [--idempotence true|false] [--read-from storage|api] [--json]

  maintenance --once  Abort stale reservations, apply retention, collect orphans, remove deleted
                        topics' data, once (needs the AWS_ENDPOINT_URL_* that 'seglog dev' prints)
                        [--topic T] [--merge-after-ms MS] [--budget-ms MS (60000)]

Options for every command:
  --url URL           The Seglog API (default: $SEGLOG_URL, else http://127.0.0.1:8092)
  -h, --help          Show this help
`;

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  dev: devCommand,
  topics: topicsCommand,
  produce: produceCommand,
  consume: consumeCommand,
  groups: groupsCommand,
  maintenance: maintenanceCommand,
  perf: perfCommand,
  cost: costCommand,
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
