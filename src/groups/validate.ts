/**
 * Input checks for the group service. Names end up inside DynamoDB keys (`G#<group>`,
 * `L#<topic>#<p>`, `M#<memberId>`), so none may contain `#`.
 */
import { invalid } from "../core/errors.ts";
import { isWellFormed } from "../core/unicode.ts";
import { MAX_PARTITIONS_PER_REQUEST } from "../core/groups/model.ts";

const NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const MEMBER_ID = /^[a-zA-Z0-9._:-]{1,128}$/;

/** Max topics per member: the member item is rewritten on every heartbeat. */
export const MAX_TOPICS_PER_MEMBER = 100;
/** As Kafka's `offset.metadata.max.bytes`, in characters. */
export const MAX_METADATA_CHARS = 4096;

export function checkGroupName(group: unknown): string {
  return checkName(group, "group");
}

export function checkTopicName(topic: unknown): string {
  return checkName(topic, "topic");
}

function checkName(value: unknown, what: string): string {
  if (typeof value !== "string" || !NAME.test(value) || value === "." || value === "..") {
    throw invalid(`${what} name must match [a-zA-Z0-9._-]{1,249} and not be "." or ".."`, `Invalid${cap(what)}Name`);
  }
  return value;
}

export function checkMemberId(memberId: unknown): string {
  if (typeof memberId !== "string" || !MEMBER_ID.test(memberId)) {
    throw invalid("memberId must match [a-zA-Z0-9._:-]{1,128}", "InvalidMemberId");
  }
  return memberId;
}

/** A join's retry token: the same characters as a member id. */
export function checkJoinId(joinId: unknown): string {
  if (typeof joinId !== "string" || !MEMBER_ID.test(joinId)) {
    throw invalid("joinId must match [a-zA-Z0-9._:-]{1,128}", "InvalidJoinId");
  }
  return joinId;
}

/** Sorted, unique, 1..MAX_TOPICS_PER_MEMBER valid names. */
export function checkTopics(topics: unknown): string[] {
  if (!Array.isArray(topics) || topics.length === 0 || topics.length > MAX_TOPICS_PER_MEMBER) {
    throw invalid(`topics must be a list of 1 to ${MAX_TOPICS_PER_MEMBER} topic names`, "InvalidTopics");
  }
  return [...new Set(topics.map(checkTopicName))].sort();
}

export function checkInt(value: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${what} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

export function checkOffset(value: unknown, what = "offset"): bigint {
  if (typeof value !== "bigint" || value < 0n) throw invalid(`${what} must be a non-negative bigint`);
  return value;
}

export function checkMetadata(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || value.length > MAX_METADATA_CHARS) {
    throw invalid(`metadata must be a string of at most ${MAX_METADATA_CHARS} characters`);
  }
  // Stored as a DynamoDB string, UTF-8: a lone surrogate could not come back as it was sent.
  if (!isWellFormed(value)) throw invalid("metadata is not well-formed Unicode (a lone surrogate)");
  return value;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A list of 1..MAX_PARTITIONS_PER_REQUEST items (0.. when `empty` is allowed). */
export function checkPartitionList<T>(list: readonly T[] | undefined, what: string, empty: boolean): readonly T[] {
  const min = empty ? 0 : 1;
  if (!Array.isArray(list) || list.length < min || list.length > MAX_PARTITIONS_PER_REQUEST) {
    throw invalid(`${what} must list ${min} to ${MAX_PARTITIONS_PER_REQUEST} partitions`);
  }
  return list;
}
