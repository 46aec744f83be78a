import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
  type TableDescription,
} from "@aws-sdk/client-dynamodb";
import { HeadBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import { createClients, DEFAULT_BUCKET, DEFAULT_REGION, DEFAULT_TABLE, LOCAL_CREDENTIALS } from "../storage/clients.ts";
import { createTableInput, TTL_ATTRIBUTE } from "../storage/table.ts";
import { lockDataDir, writableDir } from "./data-dir.ts";
import { findDynamoDbLocal, MIN_JAVA_MAJOR, startDynamoDbLocal } from "./dynamodb-local.ts";
import { LocalStackError } from "./errors.ts";
import { httpUrl } from "./ports.ts";
import { isAlive, onProcessExit } from "./processes.ts";

/**
 * The local stack (DESIGN §8): DynamoDB Local or dynalite, and s3rver, on free ports, with the
 * bucket and the table created. `seglog dev` and the integration tests both start it from here.
 */

export type DynamoEngine = "dynamodb-local" | "dynalite";

export interface LocalStackOptions {
  /** Keep data here across runs (subfolders `s3/`, `dynamodb-local/`, `dynalite/`).
   * @default in memory (s3rver: a temporary directory removed on stop) */
  dataDir?: string;
  /** `auto` runs DynamoDB Local when Java 17+ is found, else dynalite; on a `dataDir` that holds
   * one engine's tables, that engine (refusing when it is DynamoDB Local and Java is missing).
   * @default "auto" */
  dynamo?: "auto" | DynamoEngine;
  /** @default "seglog" */
  bucket?: string;
  /** @default "seglog" */
  table?: string;
  /** Host the endpoints use; s3rver and dynalite bind to it. @default "127.0.0.1" */
  host?: string;
  /** @default "us-east-1" */
  region?: string;
  /** Bound on each emulator's start-up and on table creation. @default 30000 */
  startTimeoutMs?: number;
  /** Progress lines: which engine runs, where, how long start-up took. @default silent */
  log?: (line: string) => void;
}

export interface LocalStack {
  engine: DynamoEngine;
  dynamoEndpoint: string;
  s3Endpoint: string;
  region: string;
  bucket: string;
  table: string;
  /** The AWS_ENDPOINT_URL_* etc. variables a user would export */
  env: Record<string, string>;
  /** Settles if a part of the stack ends by itself (DynamoDB Local exits), saying which and why
   * (`ComponentExited`); then every call to it fails. Stays pending otherwise, and after stop(). */
  failed: Promise<LocalStackError>;
  stop(): Promise<void>;
}

interface Service {
  endpoint: string;
  /** For a child process: settles with why if it exits, whoever stopped it. */
  exited?: Promise<string>;
  stop(): Promise<void>;
}

const DEFAULTS = {
  dynamo: "auto",
  host: "127.0.0.1",
  startTimeoutMs: 30_000,
} as const;

const TEMP_PREFIX = "seglog-stack-";
const OWNER_FILE = "owner.pid";

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const startedAt = Date.now();
  const host = options.host ?? DEFAULTS.host;
  const region = options.region ?? DEFAULT_REGION;
  const bucket = options.bucket ?? DEFAULT_BUCKET;
  const table = options.table ?? DEFAULT_TABLE;
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULTS.startTimeoutMs;
  const log = options.log ?? (() => {});
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);

  // Undo list: whatever started is stopped again if a later step fails.
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, "stopping the local stack failed");
  };

  try {
    let s3Dir: string;
    if (dataDir === undefined) {
      removeStaleTempDirs();
      const temp = makeTempDir();
      s3Dir = join(temp, "s3");
      const deregister = onProcessExit(() => rmSync(temp, { recursive: true, force: true }));
      stops.push(async () => {
        deregister();
        rmSync(temp, { recursive: true, force: true });
      });
    } else {
      writableDir(dataDir);
      const release = lockDataDir(dataDir);
      const deregister = onProcessExit(release);
      stops.push(async () => {
        deregister();
        release();
      });
      s3Dir = join(dataDir, "s3");
    }
    writableDir(s3Dir);

    const [s3Result, dynamoResult] = await Promise.allSettled([
      startS3rver({ host, directory: s3Dir, bucket, log }),
      startDynamo({ requested: options.dynamo ?? DEFAULTS.dynamo, host, dataDir, startTimeoutMs, log }),
    ]);
    if (s3Result.status === "fulfilled") stops.push(() => s3Result.value.stop());
    if (dynamoResult.status === "fulfilled") stops.push(() => dynamoResult.value.stop());
    if (s3Result.status === "rejected") throw s3Result.reason;
    if (dynamoResult.status === "rejected") throw dynamoResult.reason;
    const s3 = s3Result.value;
    const dynamo = dynamoResult.value;

    const env: Record<string, string> = {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      SEGLOG_BUCKET: bucket,
      SEGLOG_TABLE: table,
    };
    const clients = createClients(env);
    try {
      await Promise.all([
        checkBucket(clients.s3, bucket),
        ensureTable(clients.dynamo, table, dynamo.engine, startTimeoutMs),
      ]);
    } finally {
      clients.s3.destroy();
      clients.dynamo.destroy();
    }
    log(`local stack ready in ${Date.now() - startedAt} ms: bucket ${bucket}, table ${table}, region ${region}`);

    let stopping: Promise<void> | undefined;
    const failed = new Promise<LocalStackError>((resolve) => {
      void dynamo.exited?.then((why) => stopping === undefined && resolve(new LocalStackError("ComponentExited", why)));
    });
    return {
      engine: dynamo.engine,
      dynamoEndpoint: dynamo.endpoint,
      s3Endpoint: s3.endpoint,
      region,
      bucket,
      table,
      env,
      failed,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (error) {
    await stopAll().catch(() => {});
    throw error;
  }
}

// --- S3 -------------------------------------------------------------------------------------

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: Array<{ name: string }>;
}) => S3rverInstance;

const require = createRequire(import.meta.url);

async function startS3rver(o: {
  host: string;
  directory: string;
  bucket: string;
  log: (line: string) => void;
}): Promise<Service> {
  const started = Date.now();
  letS3rverPage();
  const S3rver = require("s3rver") as S3rverConstructor;
  // configureBuckets creates the bucket before listening, and leaves an existing one alone.
  const server = new S3rver({
    address: o.host,
    port: 0,
    silent: true,
    directory: o.directory,
    configureBuckets: [{ name: o.bucket }],
  });
  const address = await server.run();
  const endpoint = httpUrl(o.host, address.port);
  o.log(`S3: s3rver on ${endpoint}, data in ${o.directory} (${Date.now() - started} ms)`);
  return {
    endpoint,
    stop: async () => {
      // Idle keep-alive sockets from SDK clients would otherwise hold close() open.
      server.httpServer?.closeAllConnections();
      await server.close();
    },
  };
}

/**
 * s3rver 3.7.1 encrypts its ListObjectsV2 continuation tokens with DES, which the OpenSSL 3 in
 * Node 17+ no longer offers: every listing of more than 1,000 keys answered 500, and maintenance
 * could not page through a prefix (deleting a topic's objects, collecting orphans). Its `des`
 * ciphers become AES-128-CBC with the key and IV each written twice (16 bytes from s3rver's 8):
 * the token stays opaque, and s3rver only ever deciphers its own. Nothing else asks for DES.
 */
function letS3rverPage(): void {
  type Make = ((algorithm: unknown, key: Buffer, iv: Buffer, ...rest: unknown[]) => unknown) & { seglog?: true };
  const crypto = require("node:crypto") as Record<"createCipheriv" | "createDecipheriv", Make>;
  for (const name of ["createCipheriv", "createDecipheriv"] as const) {
    const original = crypto[name];
    if (original.seglog) continue;
    const make = (algorithm: unknown, key: Buffer, iv: Buffer, ...rest: unknown[]) =>
      algorithm === "des" ? original("aes-128-cbc", Buffer.concat([key, key]), Buffer.concat([iv, iv])) : original(algorithm, key, iv, ...rest);
    crypto[name] = Object.assign(make, { seglog: true as const });
  }
}

async function checkBucket(s3: S3Client, bucket: string): Promise<void> {
  await s3.send(new HeadBucketCommand({ Bucket: bucket }));
}

// --- DynamoDB -------------------------------------------------------------------------------

async function startDynamo(o: {
  requested: "auto" | DynamoEngine;
  host: string;
  dataDir: string | undefined;
  startTimeoutMs: number;
  log: (line: string) => void;
}): Promise<Service & { engine: DynamoEngine }> {
  const requested = o.requested === "auto" && o.dataDir !== undefined ? engineHolding(o.dataDir, o.log) : o.requested;
  if (requested !== "dynalite") {
    const found = await findDynamoDbLocal();
    if ("problem" in found) {
      if (requested === "dynamodb-local") {
        throw new LocalStackError(
          "DynamoDbLocalUnavailable",
          o.requested === "auto"
            ? `the data directory ${o.dataDir} holds DynamoDB Local's tables, and DynamoDB Local cannot run here: ${found.problem}. ` +
                `It needs Java ${MIN_JAVA_MAJOR}+ ($JAVA_HOME/bin/java, else java on PATH); or use another data directory`
            : `DynamoDB Local cannot run: ${found.problem}`,
        );
      }
      o.log(`DynamoDB: ${found.problem}; falling back to dynalite`);
    } else {
      const { java, jar } = found;
      const started = Date.now();
      const dbPath = o.dataDir === undefined ? undefined : join(o.dataDir, "dynamodb-local");
      if (dbPath !== undefined) writableDir(dbPath);
      const local = await startDynamoDbLocal({
        java,
        jar,
        host: o.host,
        startTimeoutMs: o.startTimeoutMs,
        log: o.log,
        ...(dbPath === undefined ? {} : { dbPath }),
      });
      o.log(
        `DynamoDB: DynamoDB Local (Java ${java.version}) on ${local.endpoint}, ` +
          `${dbPath === undefined ? "in memory" : `data in ${dbPath}`} (ready in ${Date.now() - started} ms)`,
      );
      const exited = local.process.exited.then(
        (status) =>
          `DynamoDB Local exited (${status.signal === null ? `code ${status.code}` : `signal ${status.signal}`}) while the stack was running: ` +
          `${local.endpoint} answers no more. Its last output:\n${local.process.outputTail()}`,
      );
      return { engine: "dynamodb-local", endpoint: local.endpoint, exited, stop: () => local.process.stop() };
    }
  }
  return startDynalite(o);
}

/**
 * The engine `auto` runs on a data directory: each engine keeps its own tables there, and running
 * the other would show an empty log over them. The one that holds data wins (DynamoDB Local if
 * both do); with none, `auto` as without a data directory.
 */
function engineHolding(dataDir: string, log: (line: string) => void): "auto" | DynamoEngine {
  if (holdsData(join(dataDir, "dynamodb-local"))) return "dynamodb-local";
  if (!holdsData(join(dataDir, "dynalite"))) return "auto";
  log(`DynamoDB: ${dataDir} holds dynalite's tables, so dynalite runs`);
  return "dynalite";
}

function holdsData(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

type DynaliteFactory = (options: {
  path?: string;
  createTableMs: number;
  deleteTableMs: number;
  updateTableMs: number;
}) => Server;

async function startDynalite(o: {
  host: string;
  dataDir: string | undefined;
  log: (line: string) => void;
}): Promise<Service & { engine: DynamoEngine }> {
  const started = Date.now();
  const dynalite = require("dynalite") as DynaliteFactory;
  const path = o.dataDir === undefined ? undefined : join(o.dataDir, "dynalite");
  if (path !== undefined) writableDir(path);
  // No artificial CREATING/DELETING delays: tests create and drop tables.
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(path === undefined ? {} : { path }) });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, o.host, () => {
      server.removeListener("error", reject);
      resolve();
    });
  });
  const endpoint = httpUrl(o.host, (server.address() as AddressInfo).port);
  o.log(
    `DynamoDB: dynalite on ${endpoint}, ${path === undefined ? "in memory" : `data in ${path}`} ` +
      `(ready in ${Date.now() - started} ms)`,
  );
  return {
    engine: "dynalite",
    endpoint,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/** Creates the table from `src/storage/table.ts` unless it exists, waits for ACTIVE, checks that
 * an existing table (from `dataDir`) has the same keys and indexes, and turns on TTL. */
async function ensureTable(dynamo: DynamoDBClient, table: string, engine: DynamoEngine, timeoutMs: number): Promise<void> {
  const input = createTableInput(table);
  try {
    await dynamo.send(new CreateTableCommand(input));
  } catch (error) {
    if (!(error instanceof Error && error.name === "ResourceInUseException")) throw error;
  }
  const deadline = Date.now() + timeoutMs;
  let description: TableDescription | undefined;
  for (;;) {
    description = (await dynamo.send(new DescribeTableCommand({ TableName: table }))).Table;
    if (description?.TableStatus === "ACTIVE") break;
    if (Date.now() > deadline) {
      const hint =
        engine === "dynalite"
          ? "; dynalite keeps a table that was stopped while CREATING in that state for good: delete the data directory"
          : "";
      throw new Error(`table ${table} is still ${description?.TableStatus ?? "missing"} after ${timeoutMs} ms${hint}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const expected = schemaOf(input.KeySchema, input.LocalSecondaryIndexes);
  const actual = schemaOf(description.KeySchema ?? [], description.LocalSecondaryIndexes ?? []);
  if (expected !== actual) {
    throw new Error(
      `table ${table} exists with another schema (${actual}) than src/storage/table.ts defines (${expected}); ` +
        `delete it, or the data directory holding it`,
    );
  }
  await enableTtl(dynamo, table, engine);
}

interface KeyElement {
  AttributeName?: string | undefined;
  KeyType?: string | undefined;
}
interface IndexShape {
  IndexName?: string | undefined;
  KeySchema?: KeyElement[] | undefined;
  Projection?: { ProjectionType?: string | undefined } | undefined;
}

function schemaOf(keys: readonly KeyElement[], indexes: readonly IndexShape[]): string {
  const keyText = (k: readonly KeyElement[]) => k.map((e) => `${e.AttributeName}:${e.KeyType}`).join(",");
  const indexText = indexes
    .map((i) => `${i.IndexName}(${keyText(i.KeySchema ?? [])}; ${i.Projection?.ProjectionType})`)
    .sort()
    .join(" ");
  return `keys ${keyText(keys)}; LSIs ${indexText || "none"}`;
}

async function enableTtl(dynamo: DynamoDBClient, table: string, engine: DynamoEngine): Promise<void> {
  const current = await dynamo.send(new DescribeTimeToLiveCommand({ TableName: table }));
  const ttl = current.TimeToLiveDescription;
  if ((ttl?.TimeToLiveStatus === "ENABLED" || ttl?.TimeToLiveStatus === "ENABLING") && ttl.AttributeName === TTL_ATTRIBUTE) {
    return;
  }
  try {
    await dynamo.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { Enabled: true, AttributeName: TTL_ATTRIBUTE },
      }),
    );
  } catch (error) {
    // dynalite has no UpdateTimeToLive; expiry is an optimisation there, not a correctness need.
    if (engine === "dynalite" && error instanceof Error && error.name === "UnknownOperationException") return;
    throw error;
  }
}

// --- Temporary data -------------------------------------------------------------------------

function makeTempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
  writeFileSync(join(dir, OWNER_FILE), String(process.pid));
  return dir;
}

/** A `kill -9`ed run cannot remove its temporary directory; the next run does, once the owning
 * process is gone. */
function removeStaleTempDirs(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir()).filter((name) => name.startsWith(TEMP_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(tmpdir(), name);
    try {
      const owner = Number(readFileSync(join(dir, OWNER_FILE), "utf8"));
      if (Number.isInteger(owner) && owner > 0 && !isAlive(owner)) rmSync(dir, { recursive: true, force: true });
    } catch {
      // Not ours to judge (no owner file yet, or unreadable): leave it.
    }
  }
}
