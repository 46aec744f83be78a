/**
 * The checker against doctored histories: a valid history passes, and each doctoring (a lost
 * record, a duplicate, reordered offsets, a shared epoch, a commit moving back, …) is reported
 * as exactly the invariant it breaks.
 */
import { describe, expect, it } from "vitest";
import { checkHistory, INVARIANTS, type FinalPartition, type History, type HistoryEvent, type Invariant, type StoredRecord } from "./checker.ts";

const rec = (offset: number, payload: string): StoredRecord => ({ offset, payload });

/**
 * Two partitions. Partition 0: idempotent producer `p` at offsets 0–5. Partition 1: plain
 * producer `q` at 0–3, plus `q-4` at 4, whose send failed after it was written; `p-9` failed
 * and was never written. A tail reader reads both; group `g` moves partition 0 from member A
 * (epoch 1) to B (epoch 2); group `h` has one member, C.
 */
function validHistory(): { events: HistoryEvent[]; final: FinalPartition[]; groups: string[] } {
  const events: HistoryEvent[] = [];
  const p0 = Array.from({ length: 6 }, (_, i) => rec(i, `p-${i}`));
  const p1 = [...Array.from({ length: 4 }, (_, i) => rec(i, `q-${i}`)), rec(4, "q-4")];
  for (const r of p0) events.push({ type: "attempt", producer: "p", idempotent: true, partition: 0, payload: r.payload });
  for (const r of p1) events.push({ type: "attempt", producer: "q", idempotent: false, partition: 1, payload: r.payload });
  events.push({ type: "attempt", producer: "p", idempotent: true, partition: 0, payload: "p-9" });
  for (const r of p0) events.push({ type: "ack", producer: "p", payload: r.payload, partition: 0, offset: r.offset });
  for (const r of p1.slice(0, 4)) events.push({ type: "ack", producer: "q", payload: r.payload, partition: 1, offset: r.offset });
  events.push({ type: "fail", producer: "q", payload: "q-4", error: "timed out" });
  events.push({ type: "fail", producer: "p", payload: "p-9", error: "timed out" });
  events.push({ type: "fetch", reader: "tail-0", partition: 0, from: 0, next: 3, highWatermark: 3, records: p0.slice(0, 3) });
  events.push({ type: "fetch", reader: "tail-0", partition: 0, from: 3, next: 6, highWatermark: 6, records: p0.slice(3) });
  events.push({ type: "fetch", reader: "tail-1", partition: 1, from: 0, next: 5, highWatermark: 5, records: p1 });
  const process = (group: string, member: string, epoch: number, partition: number, rs: StoredRecord[]) => {
    for (const r of rs) events.push({ type: "process", group, member, epoch, partition, ...r });
  };
  process("g", "A", 1, 0, p0.slice(0, 3));
  events.push({ type: "commit", group: "g", member: "A", epoch: 1, partition: 0, offset: 3 });
  process("g", "A", 1, 1, p1);
  events.push({ type: "commit", group: "g", member: "A", epoch: 1, partition: 1, offset: 5 });
  process("g", "B", 2, 0, p0.slice(3));
  events.push({ type: "commit", group: "g", member: "B", epoch: 2, partition: 0, offset: 6 });
  process("h", "C", 1, 0, p0);
  process("h", "C", 1, 1, p1);
  events.push({ type: "commit", group: "h", member: "C", epoch: 1, partition: 0, offset: 6 });
  const final: FinalPartition[] = [
    { partition: 0, logStartOffset: 0, highWatermark: 6, records: p0 },
    { partition: 1, logStartOffset: 0, highWatermark: 5, records: p1 },
  ];
  return { events, final, groups: ["g", "h"] };
}

function reported(history: History): Set<Invariant> {
  return new Set(checkHistory(history).violations.map((v) => v.invariant));
}

const indexOf = (events: HistoryEvent[], pred: (e: HistoryEvent) => boolean) => {
  const i = events.findIndex(pred);
  if (i < 0) throw new Error("no such event in the valid history");
  return i;
};

describe("the history checker", () => {
  it("passes a valid history", () => {
    const result = checkHistory(validHistory());
    expect(result.violations).toEqual([]);
    expect(result.ok).toBe(true);
  });

  const doctored: [Invariant, string, (h: ReturnType<typeof validHistory>) => void][] = [
    [
      "acked-readable",
      "an acknowledged record is missing from the final read",
      (h) => {
        const f = h.final[0] as FinalPartition;
        h.final[0] = { ...f, records: f.records.filter((r) => r.offset !== 4) };
      },
    ],
    [
      "offsets-increasing",
      "the final read returns two offsets out of order",
      (h) => {
        const f = h.final[0] as FinalPartition;
        const rs = [...f.records];
        [rs[1], rs[2]] = [rs[2] as StoredRecord, rs[1] as StoredRecord];
        h.final[0] = { ...f, records: rs };
      },
    ],
    [
      "no-duplicates",
      "an idempotent producer's record is stored twice",
      (h) => {
        const f = h.final[0] as FinalPartition;
        h.final[0] = { ...f, highWatermark: 7, records: [...f.records, rec(6, "p-1")] };
      },
    ],
    [
      "read-from-attempt",
      "a member processes a record nobody produced",
      (h) => {
        h.events.push({ type: "process", group: "h", member: "C", epoch: 1, partition: 0, offset: 2, payload: "ghost" });
      },
    ],
    [
      "read-from-attempt",
      "a reader sees a record before its produce was attempted",
      (h) => {
        const i = indexOf(h.events, (e) => e.type === "attempt" && e.payload === "q-4");
        const [attempt] = h.events.splice(i, 1);
        h.events.push(attempt as HistoryEvent);
      },
    ],
    [
      "read-stable",
      "a reader saw a record at an offset that the final read holds another record at",
      (h) => {
        const i = indexOf(h.events, (e) => e.type === "fetch" && e.partition === 1);
        const fetch = h.events[i] as Extract<HistoryEvent, { type: "fetch" }>;
        h.events[i] = { ...fetch, records: fetch.records.map((r) => (r.offset === 4 ? rec(4, "p-9") : r)) };
      },
    ],
    [
      "read-within-hwm",
      "a fetch returns a record at its own high watermark",
      (h) => {
        const i = indexOf(h.events, (e) => e.type === "fetch" && e.from === 0 && e.partition === 0);
        h.events[i] = { ...(h.events[i] as Extract<HistoryEvent, { type: "fetch" }>), highWatermark: 2 };
      },
    ],
    [
      "read-skipped",
      "a record appears in a range a reader had already read past",
      (h) => {
        const i = indexOf(h.events, (e) => e.type === "fetch" && e.from === 0 && e.partition === 0);
        const fetch = h.events[i] as Extract<HistoryEvent, { type: "fetch" }>;
        h.events[i] = { ...fetch, records: fetch.records.filter((r) => r.offset !== 1) };
      },
    ],
    [
      "exclusive-epoch",
      "two members process one partition at the same epoch",
      (h) => {
        h.events.forEach((e, i) => {
          if (e.type === "process" && e.member === "B") h.events[i] = { ...e, epoch: 1 };
        });
      },
    ],
    [
      "epoch-monotone",
      "a member processes at an older epoch after the partition moved on",
      (h) => {
        h.events.push({ type: "process", group: "g", member: "A", epoch: 1, partition: 0, offset: 5, payload: "p-5" });
      },
    ],
    [
      "commit-fenced",
      "a zombie's commit lands after the lease moved on",
      (h) => {
        h.events.push({ type: "commit", group: "g", member: "A", epoch: 1, partition: 0, offset: 6, late: true });
      },
    ],
    [
      "commit-fenced",
      "a commit lands that was sent after the lease had moved to a later epoch",
      (h) => {
        const i = indexOf(h.events, (e) => e.type === "commit" && e.member === "B");
        h.events.splice(i, 0, { type: "commit", group: "g", member: "A", epoch: 1, partition: 0, offset: 3, leaseEpochAtSend: 2 });
      },
    ],
    [
      "commit-monotone",
      "a committed offset moves backwards",
      (h) => {
        h.events.push({ type: "commit", group: "g", member: "B", epoch: 2, partition: 0, offset: 2 });
      },
    ],
    [
      "group-coverage",
      "a group never processes an acknowledged record",
      (h) => {
        const i = indexOf(h.events, (e) => e.type === "process" && e.group === "h" && e.payload === "q-2");
        h.events.splice(i, 1);
      },
    ],
  ];

  it.each(doctored)("reports %s alone when %s", (invariant, _what, doctor) => {
    const history = validHistory();
    doctor(history);
    const result = checkHistory(history);
    expect(reported(history)).toEqual(new Set([invariant]));
    expect(result.ok).toBe(false);
    expect(result.first?.invariant).toBe(invariant);
  });

  it("has a doctored history for every invariant", () => {
    expect(new Set(doctored.map(([name]) => name))).toEqual(new Set(INVARIANTS));
  });

  it("ignores records below the final log start (retention took them)", () => {
    const history = validHistory();
    const f = history.final[0] as FinalPartition;
    history.final[0] = { ...f, logStartOffset: 3, records: f.records.filter((r) => r.offset >= 3) };
    const i = indexOf(history.events, (e) => e.type === "process" && e.group === "h" && e.payload === "p-1");
    history.events.splice(i, 1);
    expect(checkHistory(history).violations).toEqual([]);
  });

  it("allows a plain producer's retry to store a record twice", () => {
    const history = validHistory();
    const f = history.final[1] as FinalPartition;
    history.final[1] = { ...f, highWatermark: 6, records: [...f.records, rec(5, "q-1")] };
    expect(checkHistory(history).violations).toEqual([]);
  });

  it("takes a lower commit answered after a higher one for a step back only when it was sent after the higher one landed", () => {
    const lower = { type: "commit", group: "g", member: "B", epoch: 2, partition: 0, offset: 4 } as const; // above A's 3, below B's 6
    const inFlight = validHistory();
    const at = indexOf(inFlight.events, (e) => e.type === "commit" && e.member === "B");
    inFlight.events.push({ ...lower, eventsAtSend: at }); // it left before B's higher commit landed
    expect(checkHistory(inFlight).violations).toEqual([]);
    const sentLater = validHistory();
    sentLater.events.push({ ...lower, eventsAtSend: at + 1 });
    expect(reported(sentLater)).toEqual(new Set(["commit-monotone"]));
    // Where storage said what each commit replaced, that order decides, however they overlapped.
    const appliedBefore = validHistory();
    appliedBefore.events.push({ ...lower, eventsAtSend: at, replaced: 3 });
    expect(checkHistory(appliedBefore).violations).toEqual([]);
    const appliedAfter = validHistory();
    appliedAfter.events.push({ ...lower, eventsAtSend: at, replaced: 6 });
    expect(reported(appliedAfter)).toEqual(new Set(["commit-monotone"]));
  });

  it("names the first violated invariant by the order of INVARIANTS, with its evidence", () => {
    const history = validHistory();
    history.events.push({ type: "commit", group: "g", member: "B", epoch: 2, partition: 0, offset: 2 });
    const f = history.final[0] as FinalPartition;
    history.final[0] = { ...f, records: f.records.filter((r) => r.offset !== 4) };
    const result = checkHistory(history);
    expect(result.violations.map((v) => v.invariant)).toEqual(["acked-readable", "commit-monotone"]);
    expect(result.first?.message).toContain("p-4");
    expect(result.first?.evidence).toMatchObject({ ack: { payload: "p-4", partition: 0, offset: 4 }, found: null });
  });
});
