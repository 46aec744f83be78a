/**
 * The history checker of the fault tests (docs/fault-testing.md): pure, no I/O. A workload under
 * injected faults records what every client saw — produce attempts and acknowledgements, each
 * fetch of a tail reader, each record a consumer-group member processed (with its lease epoch),
 * each offset commit that landed — and ends with a full, fault-free read of every partition.
 * The checker decides, from that alone, whether Seglog kept its promises.
 *
 * Records are named by a payload id (the record's value), unique per produce attempt, so a
 * record can be followed from its send to every read of it.
 */

export interface StoredRecord {
  readonly offset: number;
  readonly payload: string;
}

export type HistoryEvent =
  /** A record handed to a producer; its payload id is new. */
  | { readonly type: "attempt"; readonly producer: string; readonly idempotent: boolean; readonly partition: number; readonly payload: string }
  /** The producer's send resolved: the record is acknowledged at this offset. */
  | { readonly type: "ack"; readonly producer: string; readonly payload: string; readonly partition: number; readonly offset: number }
  /** The send was given up: the record may or may not have been written. */
  | { readonly type: "fail"; readonly producer: string; readonly payload: string; readonly error: string }
  /** One fetch of a sequential tail reader: every record it returned from `from`, up to `next`. */
  | {
      readonly type: "fetch";
      readonly reader: string;
      readonly partition: number;
      readonly from: number;
      readonly next: number;
      readonly highWatermark: number;
      readonly records: readonly StoredRecord[];
    }
  /** A consumer-group member processed a record; `epoch` is the lease epoch it held it under. */
  | {
      readonly type: "process";
      readonly group: string;
      readonly member: string;
      readonly epoch: number | undefined;
      readonly partition: number;
      readonly offset: number;
      readonly payload: string;
    }
  /**
   * An offset commit took effect in storage, whether or not its caller heard back; `late` when it
   * landed after its caller had given up on it (a zombie invocation's request);
   * `leaseEpochAtSend`, the lease's epoch as known from lease writes that had landed before the
   * commit left for storage (epochs only grow, so a fenced commit cannot land below it);
   * `eventsAtSend`, how many events the history held when it left (after any hold): a commit
   * counts as a step back only below one that had landed by then. Two commits in flight at once
   * may be answered in another order than storage applied them. `replaced`, the checkpoint the
   * commit replaced as storage answered it (null: none), settles that order where it is known: the
   * commit is then a step back exactly when it is below it.
   */
  | {
      readonly type: "commit";
      readonly group: string;
      readonly member: string;
      readonly epoch: number;
      readonly partition: number;
      readonly offset: number;
      readonly late?: boolean;
      readonly leaseEpochAtSend?: number;
      readonly eventsAtSend?: number;
      readonly replaced?: number | null;
    }
  /** Anything worth seeing in a report (joins, kills, resets); never checked. */
  | { readonly type: "note"; readonly text: string };

export interface FinalPartition {
  readonly partition: number;
  readonly logStartOffset: number;
  readonly highWatermark: number;
  /** Every record from the log start to the high watermark, in the order the read returned them. */
  readonly records: readonly StoredRecord[];
}

export interface History {
  readonly events: readonly HistoryEvent[];
  readonly final: readonly FinalPartition[];
  /** The consumer groups of the workload: each must have processed every acknowledged record. */
  readonly groups: readonly string[];
}

/** The invariants, in the order a failure reports them (durability first). */
export const INVARIANTS = [
  "acked-readable",
  "offsets-increasing",
  "no-duplicates",
  "read-from-attempt",
  "read-stable",
  "read-within-hwm",
  "read-skipped",
  "exclusive-epoch",
  "epoch-monotone",
  "commit-fenced",
  "commit-monotone",
  "group-coverage",
] as const;

export type Invariant = (typeof INVARIANTS)[number];

export const INVARIANT_TEXT: Readonly<Record<Invariant, string>> = {
  "acked-readable": "every acknowledged record is readable at its acknowledged offset",
  "offsets-increasing": "a partition's offsets are unique and increasing",
  "no-duplicates": "an idempotent producer's record is stored once",
  "read-from-attempt": "every record read was produced (no phantom records)",
  "read-stable": "a record once read stays at its offset (nothing visible before it is committed)",
  "read-within-hwm": "a fetch returns nothing at or past the high watermark it reports",
  "read-skipped": "no record appears behind a reader (in a range it already read)",
  "exclusive-epoch": "one member processes a partition per lease epoch",
  "epoch-monotone": "a partition's lease epochs never go back in processing order",
  "commit-fenced": "a commit lands only at the lease's current epoch (zombies cannot move offsets)",
  "commit-monotone": "a group's committed offsets never move backwards",
  "group-coverage": "every group processes every acknowledged record at least once",
};

export interface Violation {
  readonly invariant: Invariant;
  readonly message: string;
  /** Index of the event that shows it, when one does. */
  readonly event?: number;
  readonly evidence: unknown;
}

export interface CheckOptions {
  /** At most this many violations of each invariant are reported. @default 10 */
  readonly perInvariant?: number;
}

export interface CheckResult {
  readonly ok: boolean;
  /** Ordered by invariant (as in INVARIANTS), then by event; at most `perInvariant` of each. */
  readonly violations: readonly Violation[];
  readonly first: Violation | undefined;
}

/** Checks every invariant. */
export function checkHistory(history: History, options: CheckOptions = {}): CheckResult {
  const perInvariant = options.perInvariant ?? 10;
  const found = new Map<Invariant, Violation[]>();
  const report = (v: Violation) => {
    const list = found.get(v.invariant) ?? [];
    if (list.length < perInvariant) list.push(v);
    found.set(v.invariant, list);
  };
  const { events, final } = history;
  const finals = new Map(final.map((f) => [f.partition, { ...f, at: new Map(f.records.map((r) => [r.offset, r.payload])) }]));
  const logStart = (p: number) => finals.get(p)?.logStartOffset ?? 0;
  const finalAt = (p: number, offset: number) => finals.get(p)?.at.get(offset);

  const attempts = new Map<string, { index: number; idempotent: boolean; partition: number }>();
  const acks: { index: number; partition: number; offset: number; payload: string }[] = [];
  const ackedAt = new Set<string>();
  events.forEach((e, index) => {
    if (e.type === "attempt") attempts.set(e.payload, { index, idempotent: e.idempotent, partition: e.partition });
    if (e.type === "ack") {
      acks.push({ index, partition: e.partition, offset: e.offset, payload: e.payload });
      ackedAt.add(`${e.partition}/${e.offset}/${e.payload}`);
    }
  });

  // Durability: an acknowledgement is a promise about the final log.
  for (const a of acks) {
    if (a.offset < logStart(a.partition)) continue;
    const there = finalAt(a.partition, a.offset);
    if (there !== a.payload) {
      report({
        invariant: "acked-readable",
        event: a.index,
        message: `record ${a.payload}, acknowledged at ${a.partition}@${a.offset}, is not there (${there === undefined ? "no record" : `found ${there}`})`,
        evidence: { ack: a, found: there ?? null, logStartOffset: logStart(a.partition), highWatermark: finals.get(a.partition)?.highWatermark },
      });
    }
  }

  for (const f of final) {
    let previous = -1;
    for (const r of f.records) {
      if (r.offset <= previous || r.offset < f.logStartOffset || r.offset >= f.highWatermark) {
        report({
          invariant: "offsets-increasing",
          message: `partition ${f.partition}: offset ${r.offset} (${r.payload}) after ${previous}, log [${f.logStartOffset}, ${f.highWatermark})`,
          evidence: { partition: f.partition, offset: r.offset, previous, payload: r.payload },
        });
      }
      previous = Math.max(previous, r.offset);
    }
  }

  const stored = new Map<string, { partition: number; offset: number }[]>();
  for (const f of final) for (const r of f.records) stored.set(r.payload, [...(stored.get(r.payload) ?? []), { partition: f.partition, offset: r.offset }]);
  for (const [payload, places] of stored) {
    if (places.length > 1 && attempts.get(payload)?.idempotent === true) {
      report({
        invariant: "no-duplicates",
        event: attempts.get(payload)?.index,
        message: `idempotent record ${payload} is stored ${places.length} times: ${places.map((p) => `${p.partition}@${p.offset}`).join(", ")}`,
        evidence: { payload, places },
      });
    }
  }

  // Reads: every record anyone read, with where and when.
  const reads: { index: number; who: string; partition: number; offset: number; payload: string }[] = [];
  events.forEach((e, index) => {
    if (e.type === "fetch") for (const r of e.records) reads.push({ index, who: e.reader, partition: e.partition, ...r });
    if (e.type === "process") reads.push({ index, who: `${e.group}/${e.member}`, partition: e.partition, offset: e.offset, payload: e.payload });
  });
  for (const f of final) for (const r of f.records) reads.push({ index: events.length, who: "final read", partition: f.partition, ...r });
  for (const r of reads) {
    const attempt = attempts.get(r.payload);
    if (attempt === undefined || attempt.index > r.index) {
      report({
        invariant: "read-from-attempt",
        event: r.index,
        message: `${r.who} read ${r.payload} at ${r.partition}@${r.offset}, ${attempt === undefined ? "which nobody produced" : "before it was produced"}`,
        evidence: { read: r, attempt: attempt ?? null },
      });
      continue;
    }
    // Reads of an acknowledged record are the durability check's; reads below the final log start cannot be compared.
    if (r.who === "final read" || r.offset < logStart(r.partition) || ackedAt.has(`${r.partition}/${r.offset}/${r.payload}`)) continue;
    const there = finalAt(r.partition, r.offset);
    if (there !== r.payload) {
      report({
        invariant: "read-stable",
        event: r.index,
        message: `${r.who} read ${r.payload} at ${r.partition}@${r.offset}; the final read has ${there ?? "no record"} there`,
        evidence: { read: r, final: there ?? null },
      });
    }
  }

  events.forEach((e, index) => {
    if (e.type !== "fetch") return;
    const beyond = e.records.find((r) => r.offset >= e.highWatermark);
    if (beyond !== undefined || e.next > e.highWatermark) {
      report({
        invariant: "read-within-hwm",
        event: index,
        message: `${e.reader} fetched ${e.partition}@${e.from}: high watermark ${e.highWatermark}, but ${beyond ? `a record at ${beyond.offset}` : `next offset ${e.next}`}`,
        evidence: { fetch: e },
      });
    }
    const seen = new Set(e.records.map((r) => r.offset));
    const from = Math.max(e.from, logStart(e.partition));
    const missed = (finals.get(e.partition)?.records ?? []).filter((r) => r.offset >= from && r.offset < e.next && !seen.has(r.offset));
    if (missed.length > 0) {
      report({
        invariant: "read-skipped",
        event: index,
        message: `${e.reader} read ${e.partition} from ${e.from} to ${e.next} without ${missed.map((r) => `${r.payload}@${r.offset}`).join(", ")}, which the final read has`,
        evidence: { fetch: { from: e.from, next: e.next, highWatermark: e.highWatermark, offsets: [...seen] }, missed },
      });
    }
  });

  // Consumer groups: one member per lease epoch, epochs forward, commits forward, everything processed.
  const owners = new Map<string, { epochs: Map<number, { member: string; index: number }>; highest: { epoch: number; member: string; index: number } | undefined }>();
  const commits = new Map<string, Array<{ offset: number; index: number; member: string; epoch: number }>>();
  const committers = new Map<string, { epoch: number; member: string; index: number }>();
  events.forEach((e, index) => {
    if (e.type === "process" && e.epoch !== undefined) {
      const key = `${e.group}/${e.partition}`;
      const state = owners.get(key) ?? { epochs: new Map(), highest: undefined };
      owners.set(key, state);
      const holder = state.epochs.get(e.epoch);
      if (holder !== undefined && holder.member !== e.member) {
        report({
          invariant: "exclusive-epoch",
          event: index,
          message: `group ${e.group} partition ${e.partition}: ${e.member} processed offset ${e.offset} at epoch ${e.epoch}, which ${holder.member} processed at (event ${holder.index})`,
          evidence: { process: e, other: holder },
        });
      }
      if (holder === undefined) state.epochs.set(e.epoch, { member: e.member, index });
      if (state.highest !== undefined && e.epoch < state.highest.epoch) {
        report({
          invariant: "epoch-monotone",
          event: index,
          message: `group ${e.group} partition ${e.partition}: ${e.member} processed offset ${e.offset} at epoch ${e.epoch} after ${state.highest.member} processed at epoch ${state.highest.epoch} (event ${state.highest.index})`,
          evidence: { process: e, later: state.highest },
        });
      }
      if (state.highest === undefined || e.epoch > state.highest.epoch) state.highest = { epoch: e.epoch, member: e.member, index };
    }
    if (e.type === "commit") {
      const key = `${e.group}/${e.partition}`;
      const newest = committers.get(key);
      if (e.leaseEpochAtSend !== undefined && e.epoch < e.leaseEpochAtSend) {
        report({
          invariant: "commit-fenced",
          event: index,
          message: `group ${e.group} partition ${e.partition}: ${e.member} committed ${e.offset} at epoch ${e.epoch}${e.late === true ? " (late)" : ""}, sent when the lease was already at epoch ${e.leaseEpochAtSend}`,
          evidence: { commit: e },
        });
      } else if (newest !== undefined && (e.epoch < newest.epoch || (e.epoch === newest.epoch && e.member !== newest.member))) {
        report({
          invariant: "commit-fenced",
          event: index,
          message: `group ${e.group} partition ${e.partition}: ${e.member} committed ${e.offset} at epoch ${e.epoch}${e.late === true ? " (late)" : ""} after ${newest.member} committed at epoch ${newest.epoch} (event ${newest.index})`,
          evidence: { commit: e, newest },
        });
      }
      if (newest === undefined || e.epoch > newest.epoch) committers.set(key, { epoch: e.epoch, member: e.member, index });
      const landed = commits.get(key) ?? commits.set(key, []).get(key)!;
      const sentAt = e.eventsAtSend ?? index;
      const before =
        e.replaced !== undefined
          ? e.replaced === null
            ? undefined
            : ([...landed].reverse().find((c) => c.offset === e.replaced) ?? { offset: e.replaced, index: -1, member: "(a reset)", epoch: 0 })
          : landed.filter((c) => c.index < sentAt).reduce<(typeof landed)[number] | undefined>((a, c) => (a === undefined || c.offset > a.offset ? c : a), undefined);
      if (before !== undefined && e.offset < before.offset) {
        report({
          invariant: "commit-monotone",
          event: index,
          message: `group ${e.group} partition ${e.partition}: ${e.member} (epoch ${e.epoch}) committed ${e.offset}${e.late === true ? " late" : ""} after ${before.member} (epoch ${before.epoch}) committed ${before.offset} (event ${before.index})`,
          evidence: { commit: e, before },
        });
      }
      landed.push({ offset: e.offset, index, member: e.member, epoch: e.epoch });
    }
  });

  for (const group of history.groups) {
    const processed = new Set<string>();
    for (const e of events) if (e.type === "process" && e.group === group) processed.add(e.payload);
    const missing = acks.filter((a) => a.offset >= logStart(a.partition) && !processed.has(a.payload));
    if (missing.length > 0) {
      report({
        invariant: "group-coverage",
        event: missing[0]?.index,
        message: `group ${group} never processed ${missing.length} acknowledged record(s): ${missing
          .slice(0, 10)
          .map((a) => `${a.payload}@${a.partition}/${a.offset}`)
          .join(", ")}${missing.length > 10 ? ", …" : ""}`,
        evidence: { group, missing: missing.slice(0, 50) },
      });
    }
  }

  const violations = INVARIANTS.flatMap((name) => found.get(name) ?? []);
  return { ok: violations.length === 0, violations, first: violations[0] };
}
