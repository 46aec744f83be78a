import { Admin, type ResetTo } from "../client/admin.ts";
import { intArg, parse, required } from "./args.ts";
import { UsageError } from "./output.ts";

const out = (line: string) => process.stdout.write(`${line}\n`);

/** Left-aligned columns, two spaces apart, as kafka-consumer-groups.sh prints its tables. */
function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ");
  out(line(header));
  for (const r of rows) out(line(r));
}

const show = (v: number | string | null) => (v === null ? "-" : String(v));

/** `seglog groups`: list, describe and reset consumer groups (like kafka-consumer-groups.sh). */
export async function groupsCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    list: { type: "boolean" },
    describe: { type: "boolean" },
    "reset-offsets": { type: "boolean" },
    group: { type: "string" },
    members: { type: "boolean" },
    topic: { type: "string" },
    "to-earliest": { type: "boolean" },
    "to-latest": { type: "boolean" },
    "to-datetime": { type: "string" },
    "to-offset": { type: "string" },
    "dry-run": { type: "boolean" },
    execute: { type: "boolean" },
  });
  const actions = (["list", "describe", "reset-offsets"] as const).filter((a) => values[a]);
  if (actions.length !== 1) throw new UsageError("give exactly one of --list, --describe, --reset-offsets");
  const admin = new Admin(values.url === undefined ? {} : { url: values.url });
  switch (actions[0]) {
    case "list":
      for (const g of await admin.listGroups()) out(g);
      return 0;
    case "describe": {
      const group = required(values.group, "group");
      const d = await admin.describeGroup(group);
      if (!d.members.some((m) => m.live)) out(`Consumer group '${group}' has no active members.\n`);
      if (values.members) {
        table(
          ["GROUP", "CONSUMER-ID", "TOPICS", "#PARTITIONS", "LIVE"],
          d.members.map((m) => [group, m.memberId, m.topics.join(","), String(m.partitions), m.live ? "yes" : "no"]),
        );
        return 0;
      }
      table(
        ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID"],
        d.partitions.map((p) => [
          group,
          p.topic,
          String(p.partition),
          show(p.committedOffset),
          show(p.logEndOffset),
          show(p.lag),
          p.owner !== null && p.ownerLive ? p.owner : "-",
        ]),
      );
      return 0;
    }
    case "reset-offsets": {
      const group = required(values.group, "group");
      const topic = required(values.topic, "topic");
      const to = resetTarget(values);
      if (values["dry-run"] && values.execute) throw new UsageError("give at most one of --dry-run and --execute");
      const dryRun = values.execute !== true;
      const result = await admin.resetOffsets(group, { topic, to, dryRun });
      if (dryRun && !values["dry-run"]) {
        process.stderr.write("WARN: No action will be performed as the --execute option is missing. Add --execute to reset the offsets.\n");
      }
      table(
        ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET", ...(result.partitions.some((p) => p.error) ? ["ERROR"] : [])],
        result.partitions.map((p) => [group, topic, String(p.partition), String(p.offset), ...(p.error ? [p.error.message] : [])]),
      );
      return result.partitions.some((p) => p.error) ? 1 : 0;
    }
  }
  return 0;
}

function resetTarget(values: { "to-earliest"?: boolean; "to-latest"?: boolean; "to-datetime"?: string; "to-offset"?: string }): ResetTo {
  const given = (["to-earliest", "to-latest", "to-datetime", "to-offset"] as const).filter((k) => values[k] !== undefined);
  if (given.length !== 1) throw new UsageError("give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset");
  if (values["to-earliest"]) return "earliest";
  if (values["to-latest"]) return "latest";
  if (values["to-offset"] !== undefined) return { offset: intArg(values["to-offset"], "to-offset") as number };
  const text = values["to-datetime"] ?? "";
  const at = Date.parse(text);
  // A date and time, as kafka-consumer-groups.sh takes (Date.parse alone takes "5" for May 2001).
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text) || !Number.isFinite(at) || at < 0) throw new UsageError("--to-datetime takes an ISO 8601 time, e.g. 2024-05-01T12:00:00.000Z");
  return { timestamp: at };
}
