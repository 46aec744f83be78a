import { Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { segmentPrefix } from "../src/core/keys.ts";
import type { FunctionName } from "../src/http/router.ts";
import { TABLE_DEFINITION } from "../src/storage/table.ts";

/** Every segment object lives under this prefix (`log/<topic>/<topicId>/<partition>/…`). */
export const LOG_PREFIX = `${segmentPrefix("t", "i", 0).split("/")[0]}/`;

/** The roles the storage can grant: the API functions and the maintenance function. */
export type StorageRole = FunctionName | "maintenance";

/**
 * DynamoDB actions per role: what the code paths of each function call (see `src/storage/`),
 * and nothing more. Readers write too: a fetch aborts stalled reservations (`PutItem`) and
 * advances the stable hint (`UpdateItem`), as docs/produce-and-fetch.md describes.
 */
const TABLE_ACTIONS: Readonly<Record<StorageRole, readonly string[]>> = {
  // topic lookup, reserve (UpdateItem), commit (PutItem)
  produce: ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"],
  // head and index reads (the heads of a fetch of several partitions in one BatchGetItem), the
  // byOffset LSI, aborts and the stable hint
  fetch: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"],
  // topics, partition heads (a delete removes them 25 to a BatchWriteItem), tombstones; describe
  // reads the heads 100 to a BatchGetItem and walks the index like a fetch
  admin: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"],
  // members, leases and commits (members leave with DeleteItem); lag (the heads in BatchGetItems)
  // and resets read the log
  groups: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
  // aborts, retention (head update, then index items in batches of 25), deleted topics' items
  // (the heads past a deleted topic's count read 100 to a BatchGetItem) and groups' leases of them
  maintenance: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"],
};

/**
 * S3 actions per role, all on `log/*` only. Groups reads a segment to reset offsets to a
 * timestamp. Maintenance reads small segments and writes merged ones, deletes (DeleteObjects
 * needs `s3:DeleteObject` per key) and lists (`grantMaintenance`).
 */
const OBJECT_ACTIONS: Readonly<Record<StorageRole, readonly string[]>> = {
  produce: ["s3:PutObject"],
  fetch: ["s3:GetObject"],
  admin: [],
  groups: ["s3:GetObject"],
  maintenance: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
};

export interface SeglogStorageProps {
  /**
   * What happens to the bucket and the table when they leave the stack (or the stack is
   * deleted). `DESTROY` deletes the table, and the bucket only when it is empty.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Days after which an unfinished multipart upload is aborted and its parts deleted.
   * @default 1
   */
  readonly incompleteUploadExpirationDays?: number;
}

/**
 * The bucket (segment objects) and the table (index and registry) of one deployment.
 *
 * Bucket: no public access, TLS 1.2+ only, SSE-S3, ACLs off, no versioning (segments are
 * written once under unique names; versions would only keep deleted data alive and billed).
 * Lifecycle: unfinished multipart uploads anywhere in the bucket are aborted after
 * `incompleteUploadExpirationDays` (1 day): their parts are invisible to listings and to the
 * maintenance collector, yet billed. Orphaned *objects* of aborted reservations sit under `log/`
 * beside live segments, where no lifecycle filter can tell them apart; the maintenance function
 * collects those by comparing with the index (docs/maintenance.md).
 *
 * Table: built from `TABLE_DEFINITION` (the local stack's definition too): on demand, PITR,
 * TTL, the `byOffset` LSI, encrypted with the AWS managed key.
 */
export class SeglogStorage extends Construct {
  readonly bucket: s3.Bucket;
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: SeglogStorageProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const uploadDays = props.incompleteUploadExpirationDays ?? 1;
    if (!Number.isInteger(uploadDays) || uploadDays < 1) {
      throw new Error(`incompleteUploadExpirationDays must be a whole number of days ≥ 1, not ${uploadDays}`);
    }

    this.bucket = new s3.Bucket(this, "Bucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      removalPolicy,
      lifecycleRules: [{ id: "abort-incomplete-uploads", abortIncompleteMultipartUploadAfter: Duration.days(uploadDays) }],
    });
    Validations.of(this.bucket).acknowledge({
      id: "AwsSolutions-S1",
      reason:
        "Server access logs would write a log object per segment write or read, as many objects as the data itself. " +
        "Every write goes through the functions, and every read through a fetch that names the segments (with a URL " +
        "it signed, valid 5 minutes) or reads them: their structured logs and EMF metrics record it; " +
        "enable CloudTrail S3 data events for an audit trail.",
    });

    const def = TABLE_DEFINITION;
    const attribute = (a: { readonly name: string }): dynamodb.Attribute => ({ name: a.name, type: dynamodb.AttributeType.STRING });
    this.table = new dynamodb.Table(this, "Table", {
      partitionKey: attribute(def.partitionKey),
      sortKey: attribute(def.sortKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: def.timeToLiveAttribute,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy,
    });
    for (const index of def.localSecondaryIndexes) {
      this.table.addLocalSecondaryIndex({
        indexName: index.indexName,
        sortKey: attribute(index.sortKey),
        projectionType: index.projection === "KEYS_ONLY" ? dynamodb.ProjectionType.KEYS_ONLY : dynamodb.ProjectionType.ALL,
      });
    }
  }

  /** Writes segment objects and reserves and commits offsets. */
  grantProduce(grantee: iam.IGrantable): void {
    this.grantRole("produce", grantee);
  }

  /** Reads the index and segment objects; aborts stalled reservations. */
  grantFetch(grantee: iam.IGrantable): void {
    this.grantRole("fetch", grantee);
  }

  /** Creates, alters, describes and deletes topics (no object access: deleted topics' data goes with maintenance). */
  grantAdmin(grantee: iam.IGrantable): void {
    this.grantRole("admin", grantee);
  }

  /** Consumer-group membership, leases, commits and offset resets (reads objects for resets to a timestamp). */
  grantGroups(grantee: iam.IGrantable): void {
    this.grantRole("groups", grantee);
  }

  /** Aborts, retention, orphan collection and deleted topics: index items, deleting and listing under `log/`. */
  grantMaintenance(grantee: iam.IGrantable): void {
    this.grantRole("maintenance", grantee);
  }

  /** What a function of the given role needs: exactly the actions listed above. */
  grantRole(role: StorageRole, grantee: iam.IGrantable): void {
    const tableActions = TABLE_ACTIONS[role];
    const indexArns = TABLE_DEFINITION.localSecondaryIndexes.map((i) => `${this.table.tableArn}/index/${i.indexName}`);
    iam.Grant.addToPrincipal({
      grantee,
      actions: [...tableActions],
      // Only Query reads an index; naming each index avoids a `index/*` wildcard.
      resourceArns: [this.table.tableArn, ...(tableActions.includes("dynamodb:Query") ? indexArns : [])],
    });
    const objectActions = OBJECT_ACTIONS[role];
    if (objectActions.length > 0) {
      iam.Grant.addToPrincipal({ grantee, actions: [...objectActions], resourceArns: [this.bucket.arnForObjects(`${LOG_PREFIX}*`)] });
      // A reader also lists: without s3:ListBucket, S3 answers a GET of a missing object 403
      // AccessDenied instead of 404 NoSuchKey, and a segment that retention or a merge removed
      // could not be told from a denied read, by the functions or by a consumer reading with a
      // URL they signed. (Maintenance lists to collect orphans.) On the bucket, with no prefix
      // condition: a GET has no s3:prefix for a condition to match.
      if (objectActions.includes("s3:GetObject")) iam.Grant.addToPrincipal({ grantee, actions: ["s3:ListBucket"], resourceArns: [this.bucket.bucketArn] });
      const principal = grantee.grantPrincipal;
      if (Construct.isConstruct(principal)) {
        const stack = Stack.of(this);
        const bucketId = stack.resolve(stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)) as string;
        Validations.of(principal).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${LOG_PREFIX}*]`,
          reason: `Segment objects are named per batch or per produce request (log/<topic>/<topicId>/<partition>/<offset>.log, log/<topic>/<topicId>/r/<partition>-<offset>.log); the grant is limited to the ${LOG_PREFIX} prefix.`,
        });
      }
    }
  }
}
