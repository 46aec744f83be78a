/**
 * Finding of the fault runs (docs/fault-testing.md, "Findings"): an offset commit held in flight
 * — its caller timed out and retried, the invocation carried on — lands after the same owner's
 * later commit and moves the checkpoint back. The fence (owner and epoch) cannot tell the two
 * apart; the SDK's "a partition's commits land in order" does not hold across such retries. At
 * least once still holds (the next owner replays); an at-most-once member may process twice.
 *
 * This test pins today's behaviour, so that a fix (commits ordered per owner and epoch) shows
 * up here: it should then expect the later commit to stay.
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

it("a commit held in flight lands after the owner's later commit and moves the checkpoint back", async () => {
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
  const commit = (offset: bigint) => groups.commit(group, { memberId, offsets: [{ topic, partition: 0, epoch, offset }] });

  const delayed = commit(5n); // in flight: its caller gives up on it
  while (faults.held === 0) await new Promise((r) => setTimeout(r, 10));
  await commit(5n); // the caller's retry lands
  await commit(10n); // and the owner moves on
  faults.releaseAll();
  await delayed; // the first attempt lands now, still at the owner's epoch

  const described = await groups.describe(group);
  expect(described.partitions.find((p) => p.topic === topic && p.partition === 0)?.committedOffset).toBe(5n);
  await groups.leave(group, memberId);
});
