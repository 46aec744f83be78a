/**
 * Records what each group member holds and processes, to check the consumer-group promise:
 * every record is processed, and no partition is ever processed by two members at once.
 */
import { expect } from "vitest";
import type { ConsumedRecord, TopicPartition } from "../../../src/client/consumer.ts";
import { GroupConsumer, type GroupConsumerOptions } from "../../../src/client/group-consumer.ts";

export interface Hold {
  readonly member: string;
  readonly start: number;
  end: number | undefined;
  readonly ended?: "revoked" | "lost";
}

export interface Processed {
  readonly member: string;
  readonly partition: number;
  readonly offset: number;
  readonly at: number;
}

export class Tracker {
  /** Per `topic/partition`, every interval a member held it, in start order. */
  readonly holds = new Map<string, Hold[]>();
  readonly processed: Processed[] = [];
  readonly revoked = new Map<string, TopicPartition[]>();
  readonly lost = new Map<string, TopicPartition[]>();
  readonly violations: string[] = [];

  /** A member whose hooks and handler feed this tracker, taking `processMs` a record. `run()` is
   * started; `done` settles with it. With `eachBatch`, the handler goes through a batch a record
   * at a time, and stops when the batch says it should, resolving what it processed. */
  member(name: string, options: GroupConsumerOptions, topics: string[], processMs = 0, handler: "eachRecord" | "eachBatch" = "eachRecord"): { consumer: GroupConsumer; done: Promise<void> } {
    const consumer = new GroupConsumer({
      ...options,
      onAssigned: (tps) => tps.forEach((tp) => this.open(name, tp)),
      onRevoked: (tps) => tps.forEach((tp) => this.close(name, tp, "revoked")),
      onLost: (tps) => tps.forEach((tp) => this.close(name, tp, "lost")),
    });
    consumer.subscribe(topics);
    const each = async (r: ConsumedRecord) => {
      if (processMs > 0) await new Promise((resolve) => setTimeout(resolve, processMs));
      this.record(name, r);
    };
    const done = consumer.run(
      handler === "eachRecord"
        ? { eachRecord: each }
        : {
            eachBatch: async (batch) => {
              for (const r of batch.records) {
                if (batch.shouldStop()) return;
                await each(r);
                batch.resolveOffset(r.offset);
              }
            },
          },
    );
    done.catch(() => undefined);
    return { consumer, done };
  }

  /** Partitions a member holds now, by the hooks. */
  holding(member: string): number[] {
    const out: number[] = [];
    for (const [k, hs] of this.holds) {
      const last = hs.at(-1);
      if (last?.member === member && last.end === undefined) out.push(Number(k.split("/").at(-1)));
    }
    return out.sort((a, b) => a - b);
  }

  processedOffsets(partition: number): number[] {
    return this.processed.filter((p) => p.partition === partition).map((p) => p.offset);
  }

  /** No partition held by two members at once, and every record processed inside its member's hold. */
  expectNoOverlap(): void {
    expect(this.violations).toEqual([]);
    for (const [k, hs] of this.holds) {
      const sorted = [...hs].sort((a, b) => a.start - b.start);
      for (let i = 1; i < sorted.length; i++) {
        const prev = sorted[i - 1] as Hold;
        const next = sorted[i] as Hold;
        expect(prev.end, `${k}: ${prev.member} still held it when ${next.member} got it`).toBeDefined();
        expect(next.start, `${k}: ${prev.member} held it until ${prev.end}, ${next.member} from ${next.start}`).toBeGreaterThanOrEqual(prev.end ?? Infinity);
      }
    }
  }

  private open(member: string, tp: TopicPartition): void {
    const k = `${tp.topic}/${tp.partition}`;
    const hs = this.holds.get(k) ?? [];
    if (hs.some((h) => h.member === member && h.end === undefined)) this.violations.push(`${member} assigned ${k} twice`);
    hs.push({ member, start: performance.now(), end: undefined });
    this.holds.set(k, hs);
  }

  private close(member: string, tp: TopicPartition, how: "revoked" | "lost"): void {
    const k = `${tp.topic}/${tp.partition}`;
    const h = this.holds.get(k)?.find((x) => x.member === member && x.end === undefined);
    if (h === undefined) this.violations.push(`${member} ${how} ${k} without holding it`);
    else h.end = performance.now();
    const list = how === "revoked" ? this.revoked : this.lost;
    list.set(member, [...(list.get(member) ?? []), tp]);
  }

  private record(member: string, r: ConsumedRecord): void {
    const k = `${r.topic}/${r.partition}`;
    const open = this.holds.get(k)?.some((h) => h.member === member && h.end === undefined);
    if (!open) this.violations.push(`${member} processed ${k}@${r.offset} without holding it`);
    this.processed.push({ member, partition: r.partition, offset: r.offset, at: performance.now() });
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
