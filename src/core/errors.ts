/**
 * Seglog's few public error kinds. Each tells the caller what to do: fix the request
 * (`Invalid`, `NotFound`, `TooLarge`), re-read and decide (`Conflict`, `OffsetOutOfRange`),
 * stop (`Fenced`), or retry later (`Throttled`, `Internal` when flagged retriable).
 * HTTP status is assigned only at the handler edge (see `httpStatusOf`).
 */
export const ERROR_KINDS = [
  "Invalid",
  "NotFound",
  "Conflict",
  "Fenced",
  "OffsetOutOfRange",
  "TooLarge",
  "Throttled",
  "Internal",
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

const DEFAULT_RETRIABLE: Record<ErrorKind, boolean> = {
  Invalid: false,
  NotFound: false,
  Conflict: false,
  Fenced: false,
  OffsetOutOfRange: false,
  TooLarge: false,
  Throttled: true,
  Internal: false,
};

export interface SeglogErrorOptions {
  /** Overrides the kind's default. */
  readonly retriable?: boolean;
  /** A finer machine-readable reason, e.g. `CorruptRecord`, `OutOfOrderSequence`. */
  readonly code?: string;
  /** For `Throttled`: how long the caller should wait. */
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

export class SeglogError extends Error {
  readonly kind: ErrorKind;
  readonly retriable: boolean;
  readonly code: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(kind: ErrorKind, message: string, options: SeglogErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = `Seglog${kind}Error`;
    this.kind = kind;
    this.retriable = options.retriable ?? DEFAULT_RETRIABLE[kind];
    this.code = options.code;
    this.retryAfterMs = options.retryAfterMs;
  }

  toJSON(): ErrorBody {
    return {
      error: {
        kind: this.kind,
        message: this.message,
        retriable: this.retriable,
        ...(this.code === undefined ? {} : { code: this.code }),
      },
    };
  }
}

export interface ErrorBody {
  error: { kind: ErrorKind; message: string; retriable: boolean; code?: string };
}

/** The error a Seglog error body (`ErrorBody["error"]`) describes, or undefined when `err` is not one. */
export function errorFromBody(err: unknown, options: Pick<SeglogErrorOptions, "retryAfterMs"> = {}): SeglogError | undefined {
  const e = err as { kind?: unknown; message?: unknown; retriable?: unknown; code?: unknown } | null | undefined;
  if (typeof e !== "object" || e === null || !isErrorKind(e.kind) || typeof e.message !== "string") return undefined;
  return new SeglogError(e.kind, e.message, {
    // Absent: the kind's default (Throttled and Internal are retriable).
    ...(typeof e.retriable === "boolean" ? { retriable: e.retriable } : {}),
    ...(typeof e.code === "string" ? { code: e.code } : {}),
    ...options,
  });
}

export const invalid = (message: string, code?: string): SeglogError =>
  new SeglogError("Invalid", message, code === undefined ? {} : { code });
export const notFound = (message: string, code?: string): SeglogError =>
  new SeglogError("NotFound", message, code === undefined ? {} : { code });
/** Kafka's UNKNOWN_TOPIC_OR_PARTITION, worded one way wherever it is found. */
export const unknownTopic = (topic: string): SeglogError => notFound(`Unknown topic '${topic}'`);
export const noSuchPartition = (topic: string, partition: number, partitions: number): SeglogError =>
  notFound(`Topic '${topic}' has no partition ${partition} (it has ${partitions})`);
/** The code of a NotFound for a topic id whose heads are gone: the topic was deleted (Kafka's UNKNOWN_TOPIC_ID). */
export const TOPIC_DELETED = "UnknownTopicId";
export const conflict = (message: string, options: SeglogErrorOptions = {}): SeglogError =>
  new SeglogError("Conflict", message, options);
export const fenced = (message: string, code?: string): SeglogError =>
  new SeglogError("Fenced", message, code === undefined ? {} : { code });
export const offsetOutOfRange = (message: string): SeglogError =>
  new SeglogError("OffsetOutOfRange", message);
export const tooLarge = (message: string): SeglogError => new SeglogError("TooLarge", message);

export const isSeglogError = (e: unknown): e is SeglogError => e instanceof SeglogError;

export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === "string" && (ERROR_KINDS as readonly string[]).includes(value);
}

export function httpStatusOf(error: SeglogError): number {
  switch (error.kind) {
    case "Invalid":
      return 400;
    case "NotFound":
      return 404;
    case "Conflict":
    case "Fenced":
      return 409;
    case "OffsetOutOfRange":
      return 416;
    case "TooLarge":
      return 413;
    case "Throttled":
      return error.code === "ServiceUnavailable" ? 503 : 429;
    case "Internal":
      return 500;
  }
}
