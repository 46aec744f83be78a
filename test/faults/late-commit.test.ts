/**
 * Finding of the fault runs (docs/fault-testing.md, "Findings"): an offset commit held in flight
 * — its caller timed out and retried, the invocation carried on — landed after the same owner's
 * later commit and moved the checkpoint back: the fence (owner and epoch) cannot tell the two
 * apart. Fixed by ordered commits: each commit request carries the member's `sequence` (a retry
 * repeats it), and the lease refuses a lower one at the same epoch.
 */
import { afterAll, expect, it } from "vitest";
import { LogTopicCatalog } from "../../src/groups/log-catalog.ts";
import { GroupService } from "../../src/groups/service.ts";
import { DynamoGroupStore } from "../../src/storage/groups-store.ts";
import { classify, injectFaults } from "../helpers/faults.ts";
import { testLog } from "../helpers/log.ts";
import { testEnv, uniqueName } from "../helpers/stack.ts";

const { log, dynamo, s3 } = testLog();
afterAll(() => {
  dynamo.destroy();
  s3.destroy();
});

it("a commit held in flight that lands after the owner's later commit is refused, and the checkpoint stays", async () => {
  let armed = true;
  const faults = injectFaults(dynamo, (req) => {
    if (!armed || classify(req) !== "offset-commit") return undefined;
    armed = false;
    return "hang-before";
  });
  const groups = new GroupService({ store: new DynamoGroupStore({ client: dynamo, tableName: testEnv()["SEGLOG_TABLE"] ?? "seglog" }), catalog: new LogTopicCatalog(log) });
  const topic = uniqueName("late-commit");
  await log.createTopic({ name: topic, partitions: 1 });
  const group = uniqueName("late-commit-g");
  const { memberId, assignment } = await groups.join(group, { topics: [topic], sessionTimeoutMs: 30_000 });
  const epoch = assignment[0]?.epoch ?? 0;
  const commit = (offset: bigint, sequence: number) => groups.commit(group, { memberId, sequence, offsets: [{ topic, partition: 0, epoch, offset }] });

  const delayed = commit(5n, 1); // in flight: its caller gives up on it
  while (faults.held === 0) await new Promise((r) => setTimeout(r, 10));
  await commit(5n, 1); // the caller's retry lands
  await commit(10n, 2); // and the owner moves on
  faults.releaseAll();
  await expect(delayed).rejects.toMatchObject({ kind: "Fenced" }); // the first attempt arrives late: refused

  const described = await groups.describe(group);
  expect(described.partitions.find((p) => p.topic === topic && p.partition === 0)?.committedOffset).toBe(10n);
  await groups.leave(group, memberId);
});
