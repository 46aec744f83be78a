import { describe, expect, it } from "vitest";
import { SeglogError } from "../../../src/core/errors.ts";
import { decodeStored } from "../../../src/log/read.ts";
import { testLog } from "../../helpers/log.ts";
import { uniqueName } from "../../helpers/stack.ts";

const b = (s: string) => Buffer.from(s, "utf8");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Holds the first commit (segment PutItem with st=C) of a client until `release()`: a produce
 * that reserved and wrote, then stalled, like a Lambda frozen or killed between steps. */
function stallFirstCommit(dynamo: ReturnType<typeof testLog>["dynamo"]) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let stalled = false;
  let reached!: () => void;
  const atCommit = new Promise<void>((r) => (reached = r));
  dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Item?: { st?: { S?: string } } };
      if (!stalled && context.commandName === "PutItemCommand" && input.Item?.st?.S === "C") {
        stalled = true;
        reached();
        await released;
      }
      return next(args);
    },
    { step: "initialize", name: "stallFirstCommit" },
  );
  return { atCommit, release };
}

describe("a produce that crashes between reserve and commit", () => {
  it("holds consumers at the gap, lets them pass the aborted range after the timeout, and refuses the late commit", async () => {
    const abortTimeoutMs = 1500;
    const topic = uniqueName("abort");
    const healthy = testLog({ abortTimeoutMs });
    await healthy.log.createTopic({ name: topic, partitions: 1 });
    await healthy.log.produceRecords(topic, [{ key: null, value: b("before") }]);

    const stalled = testLog({ abortTimeoutMs });
    const stall = stallFirstCommit(stalled.dynamo);
    const late = stalled.log.produceRecords(topic, [0, 1, 2].map((i) => ({ key: null, value: b(`lost${i}`) })));
    await stall.atCommit; // reserved offsets 1..3 and wrote the object; the commit is stuck
    await healthy.log.produceRecords(topic, [{ key: null, value: b("after") }]); // offset 4, committed

    // Read committed: the reader stops at the reservation in flight.
    const early = await healthy.log.fetch(topic, 0, { offset: 1, maxWaitMs: 0 });
    expect(early.batches).toHaveLength(0);
    expect(early.nextOffset).toBe(1);
    expect((await healthy.log.describeTopic(topic)).partitions[0]?.highWatermark).toBe(1);

    await sleep(abortTimeoutMs + 300);
    const passed = await healthy.log.fetch(topic, 0, { offset: 1, maxWaitMs: 0 });
    const values = passed.batches.flatMap((x) => [...decodeStored(x.bytes)].map((r) => [r.offset, Buffer.from(r.value ?? []).toString()]));
    expect(values).toEqual([[4, "after"]]);
    expect(passed.nextOffset).toBe(5);
    expect((await healthy.log.describeTopic(topic)).partitions[0]?.highWatermark).toBe(5);

    stall.release();
    const outcome = await late;
    expect(outcome[0]).toHaveProperty("error");
    const error = (outcome[0] as { error: SeglogError }).error;
    expect(error.kind).toBe("Conflict");
    expect(error.code).toBe("ReservationAborted");
    expect(error.retriable).toBe(true);

    // The refused batch never appears, for a reader from the start either.
    const all = await healthy.log.fetch(topic, 0, { offset: 0, maxWaitMs: 0 });
    const seen = all.batches.flatMap((x) => [...decodeStored(x.bytes)].map((r) => Buffer.from(r.value ?? []).toString()));
    expect(seen).toEqual(["before", "after"]);
  });

  it("aborts a stalled reservation at the tail too, where no later batch dates it", async () => {
    const abortTimeoutMs = 1000;
    const topic = uniqueName("tail");
    const healthy = testLog({ abortTimeoutMs });
    await healthy.log.createTopic({ name: topic, partitions: 1 });
    const stalled = testLog({ abortTimeoutMs });
    const stall = stallFirstCommit(stalled.dynamo);
    const late = stalled.log.produceRecords(topic, [{ key: null, value: b("x") }, { key: null, value: b("y") }]);
    await stall.atCommit;
    expect((await healthy.log.offsetFor(topic, 0, "latest")).offset).toBe(0);
    await sleep(abortTimeoutMs + 300);
    expect((await healthy.log.offsetFor(topic, 0, "latest")).offset).toBe(2);
    const [after] = await healthy.log.produceRecords(topic, [{ key: null, value: b("z") }]);
    expect(after).toMatchObject({ baseOffset: 2 });
    stall.release();
    expect((await late)[0]).toHaveProperty("error");
    const r = await healthy.log.fetch(topic, 0, { offset: 0, maxWaitMs: 0 });
    expect(r.batches.map((x) => x.baseOffset)).toEqual([2]);
  });
});
