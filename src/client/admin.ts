import { SeglogError } from "../core/errors.ts";
import type { MemberDescription } from "../groups/service.ts";
import type { TopicConfig } from "../core/topic-config.ts";
import { SeglogHttp, pathSegment, type ClientOptions, type HttpCall, type HttpReply, type RetryBounds } from "./http.ts";

export interface TopicInfo {
  readonly name: string;
  readonly topicId: string;
  readonly partitions: number;
  readonly config: TopicConfig;
}

export interface TopicDescription extends TopicInfo {
  readonly partitionStates: ReadonlyArray<{ partition: number; logStartOffset: number; highWatermark: number }>;
}

export type OffsetAt = "earliest" | "latest" | number;

/** A group member as `GET /v1/groups/{group}` describes it. */
export type GroupMemberInfo = MemberDescription;

export interface GroupPartitionInfo {
  readonly topic: string;
  readonly partition: number;
  /** The lease owner as stored; `ownerLive` false means its session ended and the lease is free to take. */
  readonly owner: string | null;
  readonly ownerLive: boolean;
  readonly epoch: number;
  readonly committedOffset: number | null;
  readonly metadata: string | null;
  readonly revoking: boolean;
  readonly pendingOwner: string | null;
  readonly logEndOffset: number | null;
  /** logEndOffset − committedOffset; null without a committed offset. */
  readonly lag: number | null;
}

export interface GroupDescription {
  readonly group: string;
  readonly state: "Empty" | "Reconciling" | "Stable";
  readonly members: readonly GroupMemberInfo[];
  readonly partitions: readonly GroupPartitionInfo[];
}

/** Where `resetOffsets` moves a topic's committed offsets (an offset is clamped to the log). */
export type ResetTo = "earliest" | "latest" | { readonly timestamp: number } | { readonly offset: number };

export interface ResetResult {
  readonly topic: string;
  readonly dryRun: boolean;
  readonly partitions: ReadonlyArray<{
    partition: number;
    previousOffset: number | null;
    offset: number;
    error: { kind: string; message: string } | null;
  }>;
}

const topicPath = (topic: string) => `/v1/topics/${pathSegment(topic, "topic")}`;
const groupPath = (group: string) => `/v1/groups/${pathSegment(group, "group")}`;

/** Topic administration, like Kafka's AdminClient. */
export class Admin {
  readonly http: SeglogHttp;

  constructor(options: ClientOptions | SeglogHttp = {}) {
    this.http = options instanceof SeglogHttp ? options : new SeglogHttp(options);
  }

  /**
   * A change (create, alter, delete, reset) goes again when the server answers `Throttled`, which
   * says it was not made, as reads go again on any retriable error; after any other failure it
   * may have been made, and whether to send it again is the caller's to judge.
   */
  private change(call: HttpCall): Promise<HttpReply> {
    return this.http.retrying(() => this.http.call(call), undefined, { retryOn: (e) => e.kind === "Throttled" });
  }

  async createTopic(
    name: string,
    options: { partitions?: number; config?: Partial<Record<keyof TopicConfig, number | string>> } = {},
  ): Promise<TopicInfo & { warning?: string }> {
    const reply = await this.change({ method: "POST", path: "/v1/topics", json: { ...options, name } });
    return reply.json as TopicInfo & { warning?: string };
  }

  async listTopics(): Promise<TopicInfo[]> {
    return ((await this.http.get("/v1/topics")).json as { topics: TopicInfo[] }).topics;
  }

  /** The topic with each partition's log start offset and high watermark (a read of every partition). */
  async describeTopic(name: string): Promise<TopicDescription> {
    return (await this.http.get(topicPath(name))).json as TopicDescription;
  }

  /** The topic's id, partition count and config only, as Kafka's Metadata request: one read on the server, whatever the partition count. */
  async topicMetadata(name: string, bounds?: RetryBounds): Promise<TopicInfo> {
    return (await this.http.get(topicPath(name), { partitionStates: "false" }, bounds)).json as TopicInfo;
  }

  async alterTopic(
    name: string,
    change: { partitions?: number; config?: Partial<Record<keyof TopicConfig, number | string>> },
  ): Promise<TopicInfo> {
    return (await this.change({ method: "PATCH", path: topicPath(name), json: change })).json as TopicInfo;
  }

  async deleteTopic(name: string): Promise<void> {
    await this.change({ method: "DELETE", path: topicPath(name) });
  }

  async listGroups(): Promise<string[]> {
    return ((await this.http.get("/v1/groups")).json as { groups: string[] }).groups;
  }

  /** Members, each partition's owner, committed offset, log end offset and lag. */
  async describeGroup(group: string): Promise<GroupDescription> {
    return (await this.http.get(groupPath(group))).json as GroupDescription;
  }

  /**
   * Moves one topic's committed offsets; refused (`Conflict`/`GroupNotEmpty`) while the group has
   * live members, as in Kafka. `dryRun` answers the new offsets without writing them.
   */
  async resetOffsets(group: string, request: { topic: string; to: ResetTo; dryRun?: boolean }): Promise<ResetResult> {
    return (await this.change({ method: "POST", path: `${groupPath(group)}/reset`, json: request })).json as ResetResult;
  }

  /** Kafka's ListOffsets: earliest, latest, or the first offset at or after a timestamp (ms). */
  async offsetFor(topic: string, partition: number, at: OffsetAt): Promise<{ offset: number; timestamp: number | null }> {
    if (!(Number.isSafeInteger(partition) && partition >= 0)) throw new SeglogError("Invalid", `A partition is a whole number ≥ 0, not ${JSON.stringify(partition)}`);
    const reply = await this.http.get(`${topicPath(topic)}/partitions/${partition}/offsets`, { at });
    return reply.json as { offset: number; timestamp: number | null };
  }
}
