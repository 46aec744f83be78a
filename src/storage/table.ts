/**
 * The one DynamoDB table's shape: the single source of truth for its keys and indexes.
 * The CDK stack (`infra/`) and the local stack (`src/local/stack.ts`) both build it from here.
 *
 * Items (DESIGN §2): `TOPIC/<name>`, `P#<topicId>#<p>/HEAD`, `P#<topicId>#<p>/S#<seq:012>`,
 * `P#<topicId>#<p>/PR#<producerId>`, `G#<group>/M#<memberId>`, `G#<group>/L#<topic>#<p>`.
 */
export const TABLE_KEYS = {
  partitionKey: "pk",
  sortKey: "sk",
} as const;

/**
 * Local secondary index over segment items by base offset (`ob`, 20-digit zero-padded), so that a
 * fetch finds a segment at or a little before an offset with one Query, and walks forward from
 * it. Sparse: only every `every`-th seq (and every merged item) carries `ob`, so 15 commits in 16
 * write and later delete no LSI entry (1 WRU less each way); the walk reads at most about `every`
 * more index items, in the same Query page. KEYS_ONLY: the fetch needs just the seq (in `sk`).
 */
export const OFFSET_INDEX = {
  indexName: "byOffset",
  sortKey: "ob",
  projection: "KEYS_ONLY",
  every: 16,
} as const;

/** Epoch-seconds attribute that DynamoDB's TTL uses to expire group members and similar. */
export const TTL_ATTRIBUTE = "ttl";

export interface TableDefinition {
  readonly partitionKey: { readonly name: string; readonly type: "S" };
  readonly sortKey: { readonly name: string; readonly type: "S" };
  readonly localSecondaryIndexes: ReadonlyArray<{
    readonly indexName: string;
    readonly sortKey: { readonly name: string; readonly type: "S" };
    readonly projection: "KEYS_ONLY" | "ALL";
  }>;
  readonly timeToLiveAttribute: string;
  readonly billingMode: "PAY_PER_REQUEST";
}

export const TABLE_DEFINITION: TableDefinition = {
  partitionKey: { name: TABLE_KEYS.partitionKey, type: "S" },
  sortKey: { name: TABLE_KEYS.sortKey, type: "S" },
  localSecondaryIndexes: [
    {
      indexName: OFFSET_INDEX.indexName,
      sortKey: { name: OFFSET_INDEX.sortKey, type: "S" },
      projection: OFFSET_INDEX.projection,
    },
  ],
  timeToLiveAttribute: TTL_ATTRIBUTE,
  billingMode: "PAY_PER_REQUEST",
};

/** The `CreateTable` input for the definition above (structurally typed; no SDK import here). */
export function createTableInput(tableName: string) {
  const def = TABLE_DEFINITION;
  const attributeNames = new Set([
    def.partitionKey.name,
    def.sortKey.name,
    ...def.localSecondaryIndexes.map((i) => i.sortKey.name),
  ]);
  return {
    TableName: tableName,
    BillingMode: def.billingMode,
    AttributeDefinitions: [...attributeNames].map((AttributeName) => ({
      AttributeName,
      AttributeType: "S" as const,
    })),
    KeySchema: [
      { AttributeName: def.partitionKey.name, KeyType: "HASH" as const },
      { AttributeName: def.sortKey.name, KeyType: "RANGE" as const },
    ],
    LocalSecondaryIndexes: def.localSecondaryIndexes.map((i) => ({
      IndexName: i.indexName,
      KeySchema: [
        { AttributeName: def.partitionKey.name, KeyType: "HASH" as const },
        { AttributeName: i.sortKey.name, KeyType: "RANGE" as const },
      ],
      Projection: { ProjectionType: i.projection },
    })),
  };
}
