import { execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { findDynamoDbLocal } from "../../src/local/dynamodb-local.ts";
import { LocalStackError } from "../../src/local/errors.ts";
import { startLocalStack, type LocalStack } from "../../src/local/stack.ts";
import { createClients, readSeglogEnv, resolveClientSettings, type SeglogClients } from "../../src/storage/clients.ts";
import { SegmentObjects } from "../../src/storage/objects.ts";
import { OFFSET_INDEX, TABLE_DEFINITION } from "../../src/storage/table.ts";
import { testClients, testEngine, testEnv, uniqueName } from "../helpers/stack.ts";

const javaAvailable = !("problem" in (await findDynamoDbLocal()));
const stackModule = pathToFileURL(fileURLToPath(new URL("../../src/local/stack.ts", import.meta.url))).href;

interface Target {
  clients: SeglogClients;
  bucket: string;
  table: string;
}

/** The DynamoDB calls the produce and read paths rely on (DESIGN §3, §4), against one engine. */
function dynamoContract(name: string, target: () => Target): void {
  describe(name, () => {
    const key = (pk: string, sk: string) => ({ pk: { S: pk }, sk: { S: sk } });

    it("has the table with the key schema and the byOffset LSI from src/storage/table.ts", async () => {
      const { clients, table } = target();
      const { Table } = await clients.dynamo.send(new DescribeTableCommand({ TableName: table }));
      expect(Table?.TableStatus).toBe("ACTIVE");
      expect(Table?.KeySchema).toEqual([
        { AttributeName: TABLE_DEFINITION.partitionKey.name, KeyType: "HASH" },
        { AttributeName: TABLE_DEFINITION.sortKey.name, KeyType: "RANGE" },
      ]);
      const lsi = Table?.LocalSecondaryIndexes?.find((i) => i.IndexName === OFFSET_INDEX.indexName);
      expect(lsi?.KeySchema).toEqual([
        { AttributeName: TABLE_DEFINITION.partitionKey.name, KeyType: "HASH" },
        { AttributeName: OFFSET_INDEX.sortKey, KeyType: "RANGE" },
      ]);
      expect(lsi?.Projection?.ProjectionType).toBe(OFFSET_INDEX.projection);
    });

    it("lets exactly one conditional put with attribute_not_exists(sk) win", async () => {
      const { clients, table } = target();
      const pk = `P#${uniqueName("topic")}#0`;
      const put = (state: string) =>
        clients.dynamo.send(
          new PutItemCommand({
            TableName: table,
            Item: { ...key(pk, "S#000000000001"), state: { S: state } },
            ConditionExpression: "attribute_not_exists(sk)",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
      await put("C");
      const loser = await put("A").then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(loser).toBeInstanceOf(Error);
      expect((loser as Error).name).toBe("ConditionalCheckFailedException");
      // DESIGN §8: the winner's item may come back (DynamoDB, DynamoDB Local) or not (dynalite).
      const item = (loser as { Item?: Record<string, { S?: string }> }).Item;
      if (item !== undefined) expect(item.state?.S).toBe("C");
      const stored = await clients.dynamo.send(
        new GetItemCommand({ TableName: table, Key: key(pk, "S#000000000001"), ConsistentRead: true }),
      );
      expect(stored.Item?.state?.S).toBe("C");
    });

    it("reserves offsets with UpdateItem ADD and ReturnValues UPDATED_NEW", async () => {
      const { clients, table } = target();
      const pk = `P#${uniqueName("topic")}#0`;
      const reserve = async (count: number) => {
        const out = await clients.dynamo.send(
          new UpdateItemCommand({
            TableName: table,
            Key: key(pk, "HEAD"),
            UpdateExpression: "ADD nextSeq :one, nextOffset :n",
            ExpressionAttributeValues: { ":one": { N: "1" }, ":n": { N: String(count) } },
            ReturnValues: "UPDATED_NEW",
          }),
        );
        return { seq: out.Attributes?.nextSeq?.N, nextOffset: out.Attributes?.nextOffset?.N };
      };
      expect(await reserve(5)).toEqual({ seq: "1", nextOffset: "5" });
      expect(await reserve(3)).toEqual({ seq: "2", nextOffset: "8" });
    });

    it("finds the segment holding an offset with one Query on the LSI", async () => {
      const { clients, table } = target();
      const pk = `P#${uniqueName("topic")}#0`;
      const segments = [
        { seq: 1, base: 0 },
        { seq: 2, base: 5 },
        { seq: 3, base: 8 },
      ];
      for (const s of segments) {
        await clients.dynamo.send(
          new PutItemCommand({
            TableName: table,
            Item: {
              ...key(pk, `S#${String(s.seq).padStart(12, "0")}`),
              ob: { S: String(s.base).padStart(20, "0") },
              state: { S: "C" },
            },
          }),
        );
      }
      // The head item has no `ob`: the sparse index must leave it out.
      await clients.dynamo.send(new PutItemCommand({ TableName: table, Item: { ...key(pk, "HEAD"), nextSeq: { N: "3" } } }));
      const holding = async (offset: number) => {
        const out = await clients.dynamo.send(
          new QueryCommand({
            TableName: table,
            IndexName: OFFSET_INDEX.indexName,
            KeyConditionExpression: "pk = :pk AND ob <= :o",
            ExpressionAttributeValues: { ":pk": { S: pk }, ":o": { S: String(offset).padStart(20, "0") } },
            ScanIndexForward: false,
            Limit: 1,
          }),
        );
        return out.Items?.[0];
      };
      expect((await holding(6))?.sk?.S).toBe("S#000000000002");
      expect((await holding(0))?.sk?.S).toBe("S#000000000001");
      expect((await holding(100))?.sk?.S).toBe("S#000000000003");
      // KEYS_ONLY: table keys and the index key, nothing else.
      expect(Object.keys((await holding(8)) ?? {}).sort()).toEqual(["ob", "pk", "sk"]);
      const all = await clients.dynamo.send(
        new QueryCommand({
          TableName: table,
          IndexName: OFFSET_INDEX.indexName,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": { S: pk } },
        }),
      );
      expect(all.Items?.map((i) => i.sk?.S)).toEqual(["S#000000000001", "S#000000000002", "S#000000000003"]);
    });
  });
}

describe("the run's local stack", () => {
  let clients: SeglogClients;
  beforeAll(() => {
    clients = testClients();
  });
  afterAll(() => {
    clients.s3.destroy();
    clients.dynamo.destroy();
  });
  const target = (): Target => ({ clients, ...readSeglogEnv(testEnv()) });

  it("exports endpoints, region, credentials and names for other processes", () => {
    const env = testEnv();
    expect(env.AWS_ENDPOINT_URL_S3).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env.AWS_ENDPOINT_URL_DYNAMODB).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env).toMatchObject({ AWS_REGION: "us-east-1", SEGLOG_BUCKET: "seglog", SEGLOG_TABLE: "seglog" });
    expect(["dynamodb-local", "dynalite"]).toContain(testEngine());
  });

  it("stores and returns S3 objects byte for byte, including bodies over 1 MB", async () => {
    const { bucket } = target();
    const prefix = `log/${uniqueName("topic")}/`;
    const small = new TextEncoder().encode("hello, seglog");
    const large = randomBytes(1_500_000 + 17);
    for (const [name, body] of [
      ["small", small],
      ["large", large],
    ] as const) {
      await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + name, Body: body }));
      const out = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + name }));
      const bytes = await out.Body?.transformToByteArray();
      expect(bytes?.byteLength).toBe(body.byteLength);
      expect(Buffer.from(bytes ?? []).equals(Buffer.from(body))).toBe(true);
    }
    const ranged = await clients.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: prefix + "large", Range: "bytes=1048576-1048591" }),
    );
    const slice = await ranged.Body?.transformToByteArray();
    expect(Buffer.from(slice ?? []).equals(large.subarray(1_048_576, 1_048_592))).toBe(true);
  });

  it("stores streamed bodies without aws-chunked framing in them", async () => {
    // With the SDK's default checksums a stream goes up aws-chunked, and s3rver keeps the chunk
    // headers as part of the object; src/storage/clients.ts turns that off for emulators.
    const { bucket } = target();
    const key = `log/${uniqueName("topic")}/streamed`;
    const body = randomBytes(200_000);
    await clients.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: Readable.from([body]), ContentLength: body.byteLength }),
    );
    const out = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = await out.Body?.transformToByteArray();
    expect(Buffer.from(bytes ?? []).equals(body)).toBe(true);
  });

  it("resolves a command's SDK middleware once per client, and still runs middleware added to the client after its first call", async () => {
    const { table } = target();
    const { dynamo } = testClients();
    const get = () => dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: uniqueName("k") }, sk: { S: "x" } } }));
    let resolved = 0;
    const resolve = GetItemCommand.prototype.resolveMiddleware;
    const spy = vi.spyOn(GetItemCommand.prototype, "resolveMiddleware").mockImplementation(function (this: GetItemCommand, ...args) {
      resolved++;
      return resolve.apply(this, args);
    });
    try {
      await get();
      await get();
      expect(resolved).toBe(1);
      // What fault injection and the bench's call counting do: middleware added after calls ran.
      let seen = 0;
      dynamo.middlewareStack.add(
        (next) => async (args) => {
          seen++;
          return next(args);
        },
        { step: "initialize", name: "countCalls" },
      );
      await get();
      await get();
      expect(seen).toBe(2);
      dynamo.middlewareStack.remove("countCalls");
      await get();
      expect(seen).toBe(2);
      expect(resolved).toBe(3);
    } finally {
      spy.mockRestore();
      dynamo.destroy();
    }
  });

  it("presigns GETs between SDK reads of the same object, and neither changes the other", async () => {
    const { bucket } = target();
    const { s3, dynamo } = testClients();
    const objects = new SegmentObjects(s3, bucket);
    const key = `log/${uniqueName("topic")}/presigned`;
    const body = randomBytes(4096);
    try {
      await objects.put(key, body);
      expect(Buffer.from(await objects.get(key)).equals(body)).toBe(true);
      // The presigner builds its request with a GET of its own that is never sent (objects.ts).
      const url = await objects.presignGet(key, 60, { start: 100, end: 200 });
      const response = await fetch(url, { headers: { range: "bytes=100-199" } });
      expect(Buffer.from(await response.arrayBuffer()).equals(body.subarray(100, 200))).toBe(true);
      expect(Buffer.from(await objects.get(key, { start: 0, end: 10 })).equals(body.subarray(0, 10))).toBe(true);
    } finally {
      s3.destroy();
      dynamo.destroy();
    }
  });

  dynamoContract(`DynamoDB (${testEngine()})`, target);
});

describe("a second stack on dynalite", () => {
  let stack: LocalStack;
  let clients: SeglogClients;
  beforeAll(async () => {
    stack = await startLocalStack({ dynamo: "dynalite" });
    clients = createClients(stack.env);
  });
  afterAll(async () => {
    clients?.s3.destroy();
    clients?.dynamo.destroy();
    await stack?.stop();
  });

  it("says it runs dynalite on its own ports", () => {
    expect(stack.engine).toBe("dynalite");
    expect(stack.dynamoEndpoint).not.toBe(testEnv().AWS_ENDPOINT_URL_DYNAMODB);
    expect(stack.s3Endpoint).not.toBe(testEnv().AWS_ENDPOINT_URL_S3);
  });

  dynamoContract("DynamoDB (dynalite)", () => ({ clients, bucket: stack.bucket, table: stack.table }));
});

describe("persistence in dataDir", () => {
  const engines = javaAvailable ? (["dynalite", "dynamodb-local"] as const) : (["dynalite"] as const);
  it.each(engines)("keeps the bucket's objects and the table's items across restarts (%s)", async (engine) => {
    const dataDir = mkdtempSync(join(tmpdir(), "seglog-test-data-"));
    try {
      const item = { pk: { S: "TOPIC" }, sk: { S: "orders" }, partitions: { N: "3" } };
      await withStack({ dataDir, dynamo: engine }, async (c, s) => {
        await c.dynamo.send(new PutItemCommand({ TableName: s.table, Item: item }));
        await c.s3.send(new PutObjectCommand({ Bucket: s.bucket, Key: "kept.log", Body: "kept" }));
      });
      await withStack({ dataDir, dynamo: engine }, async (c, s) => {
        const got = await c.dynamo.send(new GetItemCommand({ TableName: s.table, Key: { pk: item.pk, sk: item.sk } }));
        expect(got.Item).toEqual(item);
        const obj = await c.s3.send(new GetObjectCommand({ Bucket: s.bucket, Key: "kept.log" }));
        expect(await obj.Body?.transformToString()).toBe("kept");
      });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("auto on a data directory", () => {
  it("runs the engine that holds its tables: dynalite's, though Java is here", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "seglog-test-data-"));
    try {
      const item = { pk: { S: "TOPIC" }, sk: { S: "orders" } };
      await withStack({ dataDir, dynamo: "dynalite" }, (c, s) => c.dynamo.send(new PutItemCommand({ TableName: s.table, Item: item })).then(() => {}));
      await withStack({ dataDir, dynamo: "auto" }, async (c, s) => {
        expect(s.engine).toBe("dynalite");
        expect((await c.dynamo.send(new GetItemCommand({ TableName: s.table, Key: item }))).Item).toEqual(item);
      });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it.skipIf(!javaAvailable)("refuses, rather than show an empty dynalite table, when DynamoDB Local holds them and Java is missing", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "seglog-test-data-"));
    const noJava = mkdtempSync(join(tmpdir(), "seglog-test-nojava-"));
    try {
      await withStack({ dataDir, dynamo: "dynamodb-local" }, async () => {});
      vi.stubEnv("JAVA_HOME", noJava);
      const error = await startLocalStack({ dataDir, dynamo: "auto" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LocalStackError);
      expect(error).toMatchObject({ code: "DynamoDbLocalUnavailable", message: expect.stringContaining(`${dataDir} holds DynamoDB Local's tables`) });
      expect(existsSync(join(dataDir, "dynalite"))).toBe(false);
    } finally {
      vi.unstubAllEnvs();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(noJava, { recursive: true, force: true });
    }
  });
});

describe("a data directory from an older schema", () => {
  it("is refused with a message saying what to delete", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "seglog-test-data-"));
    try {
      await withStack({ dataDir, dynamo: "dynalite" }, async (c, s) => {
        await c.dynamo.send(new DeleteTableCommand({ TableName: s.table }));
        await waitUntilGone(c.dynamo, s.table);
        await c.dynamo.send(
          new CreateTableCommand({
            TableName: s.table,
            BillingMode: "PAY_PER_REQUEST",
            AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
            KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
          }),
        );
        // dynalite persists a table stopped while CREATING as CREATING for good.
        await waitUntilActive(c.dynamo, s.table);
      });
      await expect(startLocalStack({ dataDir, dynamo: "dynalite" })).rejects.toThrow(/another schema.*delete it/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("a data directory in use", () => {
  it("is refused to a second stack while the first runs, with a LocalStackError naming the holder's pid", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "seglog-test-data-"));
    try {
      await withStack({ dataDir, dynamo: "dynalite" }, async () => {
        const error = await startLocalStack({ dataDir, dynamo: "dynalite" }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(LocalStackError);
        expect(error).toMatchObject({ code: "DataDirLocked", message: expect.stringContaining(`${dataDir} is in use by another local stack, pid ${process.pid}`) });
      });
      expect(existsSync(join(dataDir, "seglog.lock"))).toBe(false);
      await withStack({ dataDir, dynamo: "dynalite" }, async () => {});
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("is taken over from a process that is gone (a killed run's lock)", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "seglog-test-data-"));
    try {
      const gone = spawnSync(process.execPath, ["-e", ""]).pid;
      writeFileSync(join(dataDir, "seglog.lock"), String(gone));
      await withStack({ dataDir, dynamo: "dynalite" }, async () => {
        expect(readFileSync(join(dataDir, "seglog.lock"), "utf8")).toBe(String(process.pid));
      });
      expect(existsSync(join(dataDir, "seglog.lock"))).toBe(false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("a data directory that cannot be written to", () => {
  it("is refused before anything starts, with a LocalStackError naming it", async () => {
    const parent = mkdtempSync(join(tmpdir(), "seglog-test-file-"));
    try {
      writeFileSync(join(parent, "file"), "");
      const dataDir = join(parent, "file", "data");
      const error = await startLocalStack({ dataDir, dynamo: "dynalite" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LocalStackError);
      expect(error).toMatchObject({ code: "DataDirNotWritable", message: expect.stringContaining(`${dataDir} is not writable`) });
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe("client settings from the environment", () => {
  it("treats explicit non-AWS endpoints as emulators: path style, dummy keys", () => {
    const s = resolveClientSettings({
      AWS_ENDPOINT_URL: "http://localhost:4566",
      AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9000",
    });
    expect(s).toMatchObject({
      region: "us-east-1",
      s3Endpoint: "http://127.0.0.1:9000",
      dynamoEndpoint: "http://localhost:4566",
      s3Local: true,
      dynamoLocal: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      maxAttempts: 3,
      retryMode: "standard",
    });
  });

  it("leaves AWS endpoints and the default credential chain alone", () => {
    const s = resolveClientSettings({ AWS_REGION: "eu-west-1", AWS_ENDPOINT_URL_S3: "https://s3.eu-west-1.amazonaws.com" });
    expect(s).toMatchObject({ region: "eu-west-1", s3Local: false, dynamoLocal: false });
    expect(s.credentials).toBeUndefined();
    expect(s.dynamoEndpoint).toBeUndefined();
  });

  it("uses exported static keys for emulators when both are set", () => {
    const s = resolveClientSettings({
      AWS_ENDPOINT_URL: "http://localhost:4566",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "secret",
      AWS_MAX_ATTEMPTS: "5",
    });
    expect(s.credentials).toEqual({ accessKeyId: "test", secretAccessKey: "secret" });
    expect(s.maxAttempts).toBe(5);
  });

  it("leaves object bodies out of the signature over HTTPS and to an emulator on this machine, and signs them over any other plain HTTP", async () => {
    // AWS endpoints take keys from the SDK's default chain, which reads the process's environment.
    vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "secret");
    vi.stubEnv("AWS_SESSION_TOKEN", "");
    vi.stubEnv("AWS_PROFILE", "");
    const contentHashOf = async (env: Record<string, string>) => {
      const { s3, dynamo } = createClients({ AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret", ...env }, { maxAttempts: 1 });
      let headers: Record<string, string> = {};
      // The request as it would go on the wire, signed, caught before it is sent.
      (s3.config as { requestHandler: unknown }).requestHandler = {
        handle: async (request: { headers: Record<string, string> }) => {
          headers = request.headers;
          throw new Error("not sent");
        },
      };
      await expect(s3.send(new PutObjectCommand({ Bucket: "b", Key: "k", Body: new Uint8Array(1024) }))).rejects.toThrow("not sent");
      s3.destroy();
      dynamo.destroy();
      expect(headers["authorization"]).toMatch(/^AWS4-HMAC-SHA256 .*SignedHeaders=.*x-amz-content-sha256/);
      return { hash: headers["x-amz-content-sha256"], crc32: headers["x-amz-checksum-crc32"] };
    };
    try {
      // To AWS the body still carries the CRC32 that S3 checks.
      expect(await contentHashOf({ AWS_REGION: "us-east-1" })).toEqual({ hash: "UNSIGNED-PAYLOAD", crc32: "77WvLg==" }); // CRC32 of 1 KiB of zeros
      expect((await contentHashOf({ AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9000" })).hash).toBe("UNSIGNED-PAYLOAD");
      expect((await contentHashOf({ AWS_ENDPOINT_URL_S3: "http://minio.lan:9000" })).hash).toMatch(/^[0-9a-f]{64}$/);
      expect((await contentHashOf({ AWS_ENDPOINT_URL_S3: "http://s3.us-east-1.amazonaws.com" })).hash).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe.skipIf(!javaAvailable)("no DynamoDB Local outlives its stack", () => {
  it("stop() ends the java process", async () => {
    const stack = await startLocalStack({ dynamo: "dynamodb-local" });
    const port = new URL(stack.dynamoEndpoint).port;
    expect(stack.engine).toBe("dynamodb-local");
    expect(await processesOnPort(port)).not.toEqual([]);
    await stack.stop();
    expect(await processesOnPort(port)).toEqual([]);
  });

  it("says so through stack.failed when the java process dies under it, and not when stop() ends it", async () => {
    const stack = await startLocalStack({ dynamo: "dynamodb-local" });
    try {
      const pending = Symbol("pending");
      const settled = () => Promise.race([stack.failed, new Promise((r) => setTimeout(() => r(pending), 200))]);
      expect(await settled()).toBe(pending);
      const port = new URL(stack.dynamoEndpoint).port;
      const java = (await processesOnPort(port)).map((line) => line.trim().split(/\s+/)).find((f) => f[2] === "java")?.[0];
      process.kill(Number(java), "SIGKILL");
      const failure = await stack.failed;
      expect(failure).toBeInstanceOf(LocalStackError);
      expect(failure).toMatchObject({ code: "ComponentExited", message: expect.stringContaining(`DynamoDB Local exited (code 137) while the stack was running: ${stack.dynamoEndpoint}`) });
    } finally {
      await stack.stop();
    }
    const stopped = await startLocalStack({ dynamo: "dynamodb-local" });
    await stopped.stop();
    expect(await Promise.race([stopped.failed, new Promise((r) => setTimeout(() => r("pending"), 500))])).toBe("pending");
  });

  it("kill -9 of the node process that started it ends the java process", async () => {
    const script = [
      `import { startLocalStack } from ${JSON.stringify(stackModule)};`,
      `const stack = await startLocalStack({ dynamo: "dynamodb-local" });`,
      `console.log(JSON.stringify({ ready: stack.dynamoEndpoint }));`,
      `setInterval(() => {}, 1 << 30);`,
    ].join("\n");
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const endpoint = await new Promise<string>((resolve, reject) => {
      let stdout = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /\{"ready":"([^"]+)"\}/.exec(stdout);
        if (match?.[1]) resolve(match[1]);
      });
      child.once("exit", (code) => reject(new Error(`child exited (${code}) before the stack was ready:\n${stderr}`)));
    });
    const port = new URL(endpoint).port;
    expect(await processesOnPort(port)).not.toEqual([]);
    child.kill("SIGKILL");
    const deadline = Date.now() + 10_000;
    let left = await processesOnPort(port);
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await processesOnPort(port);
    }
    expect(left).toEqual([]);
  });
});

async function withStack(
  options: { dataDir: string; dynamo: "auto" | "dynalite" | "dynamodb-local" },
  body: (clients: SeglogClients, stack: LocalStack) => Promise<void>,
): Promise<void> {
  const stack = await startLocalStack(options);
  const clients = createClients(stack.env);
  try {
    await body(clients, stack);
  } finally {
    clients.s3.destroy();
    clients.dynamo.destroy();
    await stack.stop();
  }
}

async function waitUntilGone(dynamo: DynamoDBClient, table: string): Promise<void> {
  for (;;) {
    try {
      await dynamo.send(new DescribeTableCommand({ TableName: table }));
    } catch (error) {
      if (error instanceof Error && error.name === "ResourceNotFoundException") return;
      throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function waitUntilActive(dynamo: DynamoDBClient, table: string): Promise<void> {
  for (;;) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: table }));
    if (Table?.TableStatus === "ACTIVE") return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Live processes (the java process and its watchdog) started for DynamoDB Local on `port`. */
async function processesOnPort(port: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)("ps", ["-ww", "-eo", "pid=,stat=,args="]);
  return stdout
    .split("\n")
    .filter((line) => line.includes("DynamoDBLocal.jar") && new RegExp(`-port ${port}(\\s|$)`).test(line))
    .filter((line) => !/^\s*\d+\s+Z/.test(line));
}
