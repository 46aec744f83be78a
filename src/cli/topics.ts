import { Admin } from "../client/admin.ts";
import { configArg, intArg, parse, required } from "./args.ts";
import { UsageError } from "./output.ts";

const out = (line: string) => process.stdout.write(`${line}\n`);

export async function topicsCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    create: { type: "boolean" },
    list: { type: "boolean" },
    describe: { type: "boolean" },
    alter: { type: "boolean" },
    delete: { type: "boolean" },
    topic: { type: "string" },
    partitions: { type: "string" },
    config: { type: "string", multiple: true },
  });
  const actions = (["create", "list", "describe", "alter", "delete"] as const).filter((a) => values[a]);
  if (actions.length !== 1) throw new UsageError("give exactly one of --create, --list, --describe, --alter, --delete");
  const admin = new Admin(values.url === undefined ? {} : { url: values.url });
  const partitions = intArg(values.partitions, "partitions", 1);
  const config = configArg(values.config);
  switch (actions[0]) {
    case "create": {
      const topic = required(values.topic, "topic");
      const created = await admin.createTopic(topic, { ...(partitions ? { partitions } : {}), ...(config ? { config } : {}) });
      if (created.warning) process.stderr.write(`WARNING: ${created.warning}\n`);
      out(`Created topic ${created.name}.`);
      return 0;
    }
    case "list": {
      // As kafka-topics.sh --list --topic: the names the regular expression matches whole.
      const only = values.topic === undefined ? undefined : topicPattern(values.topic);
      for (const t of await admin.listTopics()) if (only === undefined || only.test(t.name)) out(t.name);
      return 0;
    }
    case "describe": {
      const names = values.topic ? [values.topic] : (await admin.listTopics()).map((t) => t.name);
      for (const name of names) {
        const d = await admin.describeTopic(name);
        const configs = Object.entries(d.config).map(([k, v]) => `${k}=${v}`).join(",");
        out(`Topic: ${d.name}\tTopicId: ${d.topicId}\tPartitionCount: ${d.partitions}\tConfigs: ${configs}`);
        for (const p of d.partitionStates) {
          out(`\tTopic: ${d.name}\tPartition: ${p.partition}\tLogStartOffset: ${p.logStartOffset}\tHighWatermark: ${p.highWatermark}`);
        }
      }
      return 0;
    }
    case "alter": {
      const topic = required(values.topic, "topic");
      if (partitions === undefined && config === undefined) throw new UsageError("--alter needs --partitions or --config");
      const t = await admin.alterTopic(topic, { ...(partitions ? { partitions } : {}), ...(config ? { config } : {}) });
      const changed = Object.keys(config ?? {}).map((k) => `${k}=${String(t.config[k as keyof typeof t.config])}`);
      out(`Altered topic ${t.name}: ${t.partitions} partition${t.partitions === 1 ? "" : "s"}${changed.length > 0 ? `; ${changed.join(",")}` : ""}.`);
      return 0;
    }
    case "delete": {
      const topic = required(values.topic, "topic");
      await admin.deleteTopic(topic);
      out(`Deleted topic ${topic}.`);
      return 0;
    }
  }
  return 0;
}

function topicPattern(topic: string): RegExp {
  try {
    return new RegExp(`^(?:${topic})$`);
  } catch {
    throw new UsageError(`--topic '${topic}' is not a regular expression`);
  }
}
