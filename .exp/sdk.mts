import { UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { createClients } from "/work/main/src/storage/clients.ts";
const env = { AWS_ENDPOINT_URL_DYNAMODB: process.argv[2], AWS_ENDPOINT_URL_S3: process.argv[3] };
const c = createClients(env); if (process.argv[4] === "cache") for (const cl of [c.s3, c.dynamo]) (cl.config as any).cacheMiddleware = true;
const mode = process.argv[4] ?? "";
if (mode.includes("strip")) {
  for (const cl of [c.s3, c.dynamo]) {
    for (const name of (cl.middlewareStack as any).identify()) console.error(name);
  }
}
const N = 1500;
async function run(label: string, f: (i: number) => Promise<unknown>) {
  for (let i = 0; i < 200; i++) await f(i);
  const cpu = process.cpuUsage(); const t = performance.now();
  for (let i = 0; i < N; i++) await f(i);
  const d = process.cpuUsage(cpu);
  console.log(label, ((d.user + d.system) / 1000 / N).toFixed(3), "ms cpu/call", ((performance.now() - t) / N).toFixed(3), "ms wall/call");
}
await run("UpdateItem", (i) => c.dynamo.send(new UpdateItemCommand({ TableName: "seglog", Key: { pk: { S: "bench" }, sk: { S: "x" + (i % 10) } }, UpdateExpression: "ADD n :one", ExpressionAttributeValues: { ":one": { N: "1" } } })));
const body = new Uint8Array(1024);
await run("PutObject 1KiB", (i) => c.s3.send(new PutObjectCommand({ Bucket: "seglog", Key: "bench/" + (i % 10), Body: body, ContentLength: body.length })));
