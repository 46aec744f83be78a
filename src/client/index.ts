/** Seglog's client SDK: usable from any Node program. */
export {
  Admin,
  type GroupDescription,
  type GroupMemberInfo,
  type GroupPartitionInfo,
  type OffsetAt,
  type ResetResult,
  type ResetTo,
  type TopicDescription,
  type TopicInfo,
} from "./admin.ts";
export { Consumer, type ConsumedRecord, type ConsumerOptions, type ConsumerStats, type OffsetReset, type TopicPartition } from "./consumer.ts";
export {
  GroupConsumer,
  type Delivery,
  type GroupBatch,
  type GroupConsumerOptions,
  type PartitionsHook,
  type RunOptions,
} from "./group-consumer.ts";
export { DEFAULT_URL, SeglogHttp, type ClientOptions } from "./http.ts";
export { Producer, type HeaderValue, type Partitioner, type ProducerOptions, type ProducerRecord, type RecordMetadata } from "./producer.ts";
export { SeglogError, type ErrorKind } from "../core/errors.ts";
