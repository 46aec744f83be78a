/**
 * The cold-start baseline (bench/cold-start.ts): the AWS SDK's DynamoDB and S3 clients, the
 * commands Seglog's functions send and the presigner's signer, and nothing of Seglog's own,
 * bundled as a function is. Its module initialisation is what any function built on these
 * clients pays before its own code.
 */
export {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
export { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
export { SignatureV4 } from "@smithy/signature-v4";
