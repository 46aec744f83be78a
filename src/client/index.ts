/** Seglog's client SDK: usable from any Node program. */
export { Admin, type OffsetAt, type TopicDescription, type TopicInfo } from "./admin.ts";
export { Consumer, type ConsumedRecord, type ConsumerOptions, type OffsetReset, type TopicPartition } from "./consumer.ts";
export { DEFAULT_URL, SeglogHttp, type ClientOptions } from "./http.ts";
export { Producer, type ProducerOptions, type ProducerRecord, type RecordMetadata } from "./producer.ts";
export { SeglogError, type ErrorKind } from "../core/errors.ts";
