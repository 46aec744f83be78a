import type { TopicConfig } from "../core/topic-config.ts";
import { SeglogHttp, type ClientOptions } from "./http.ts";

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

const topicPath = (topic: string) => `/v1/topics/${encodeURIComponent(topic)}`;

/** Topic administration, like Kafka's AdminClient. */
export class Admin {
  readonly http: SeglogHttp;

  constructor(options: ClientOptions | SeglogHttp = {}) {
    this.http = options instanceof SeglogHttp ? options : new SeglogHttp(options);
  }

  async createTopic(
    name: string,
    options: { partitions?: number; config?: Partial<Record<keyof TopicConfig, number | string>> } = {},
  ): Promise<TopicInfo & { warning?: string }> {
    const reply = await this.http.call({ method: "POST", path: "/v1/topics", json: { name, ...options } });
    return reply.json as TopicInfo & { warning?: string };
  }

  async listTopics(): Promise<TopicInfo[]> {
    return ((await this.http.get("/v1/topics")).json as { topics: TopicInfo[] }).topics;
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    return (await this.http.get(topicPath(name))).json as TopicDescription;
  }

  async alterTopic(
    name: string,
    change: { partitions?: number; config?: Partial<Record<keyof TopicConfig, number | string>> },
  ): Promise<TopicInfo> {
    return (await this.http.call({ method: "PATCH", path: topicPath(name), json: change })).json as TopicInfo;
  }

  async deleteTopic(name: string): Promise<void> {
    await this.http.call({ method: "DELETE", path: topicPath(name) });
  }

  /** Kafka's ListOffsets: earliest, latest, or the first offset at or after a timestamp (ms). */
  async offsetFor(topic: string, partition: number, at: OffsetAt): Promise<{ offset: number; timestamp: number | null }> {
    const reply = await this.http.get(`${topicPath(topic)}/partitions/${partition}/offsets`, { at });
    return reply.json as { offset: number; timestamp: number | null };
  }
}
