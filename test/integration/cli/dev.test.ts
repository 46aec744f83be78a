import { execFile, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findDynamoDbLocal } from "../../../src/local/dynamodb-local.ts";
import { startLocalStack } from "../../../src/local/stack.ts";
import { runCli, SEGLOG_BIN } from "../../helpers/cli.ts";

const javaAvailable = !("problem" in (await findDynamoDbLocal()));

const alive = (pgid: number): number[] => {
  try {
    return execFileSync("pgrep", ["-g", String(pgid)], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
};

/** Processes whose command line names the emulator's port (DynamoDB Local runs as its own process). */
const withPort = (port: string): number[] => {
  try {
    return execFileSync("pgrep", ["-f", "--", `^java .*-port ${port}$`], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

interface Dev {
  readonly pid: number;
  /** Its stdout and stderr so far. */
  output(): string;
  readonly exited: Promise<number | null>;
}

/** Starts `seglog dev args…` in its own process group and waits until it serves (or exits). */
async function startDev(args: string[]): Promise<Dev & { url: string }> {
  const child = spawn(process.execPath, [SEGLOG_BIN, "dev", "--port", "0", ...args], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const dev = { pid: child.pid as number, output: () => out, exited: new Promise<number | null>((r) => child.on("exit", (code) => r(code))) };
  const deadline = Date.now() + 60_000;
  let gone = false;
  void dev.exited.then(() => (gone = true));
  while (!out.includes("Press Ctrl-C") && !gone && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const url = out.match(/HTTP API\s+(http:\/\/127\.0\.0\.1:\d+)\/v1/)?.[1];
  if (url === undefined || !out.includes("Press Ctrl-C")) {
    stopDev(dev);
    throw new Error(`seglog dev did not start:\n${out}`);
  }
  return { ...dev, url };
}

/** Kills whatever is left of a dev's process group. */
function stopDev(dev: Dev): void {
  try {
    process.kill(-dev.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

describe("seglog dev (npm start)", () => {
  it("serves the API with its own stack, and Ctrl-C leaves no process behind", async () => {
    const dev = await startDev([]);
    try {
      const out = dev.output();
      expect(out).toContain("serving the Lambda bundles in dist/functions"); // what cdk deploy ships
      expect(out).toMatch(/export AWS_ENDPOINT_URL_DYNAMODB=http:\/\/127\.0\.0\.1:\d+/);
      expect(out).toMatch(/export AWS_ENDPOINT_URL_S3=http:\/\/127\.0\.0\.1:\d+/);
      const res = await fetch(`${dev.url}/v1/topics`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ topics: [] });
      const dynamoPort = out.match(/AWS_ENDPOINT_URL_DYNAMODB=http:\/\/127\.0\.0\.1:(\d+)/)?.[1];
      const emulator = () => withPort(dynamoPort ?? "none");
      const separate = out.includes("DynamoDB: dynamodb-local") ? 1 : 0; // dynalite runs inside node
      expect(emulator().length).toBe(separate);
      process.kill(-dev.pid, "SIGINT");
      expect(await dev.exited).toBe(0);
      // Children get a moment to finish dying after the parent exits; then none may be left.
      for (let i = 0; i < 50 && (alive(dev.pid).length > 0 || emulator().length > 0); i++) await new Promise((r) => setTimeout(r, 100));
      expect(alive(dev.pid)).toEqual([]);
      expect(emulator()).toEqual([]);
    } finally {
      stopDev(dev);
    }
  }, 90_000);
});

describe("seglog dev stopping", () => {
  it("on Ctrl-C takes no new request, lets one in flight finish, and only then stops DynamoDB Local", async () => {
    const dev = await startDev([]);
    try {
      const created = await fetch(`${dev.url}/v1/topics`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "waiting", partitions: 1 }) });
      expect(created.status).toBe(201);
      const sent = Date.now();
      // A long poll on an empty partition asks DynamoDB again every 100 ms until maxWaitMs.
      const poll = fetch(`${dev.url}/v1/topics/waiting/partitions/0/records?offset=0&maxWaitMs=3000`).then(
        (r) => r.status,
        (e: Error) => e.message,
      );
      await new Promise((r) => setTimeout(r, 500));
      process.kill(-dev.pid, "SIGINT");
      await new Promise((r) => setTimeout(r, 500));
      await expect(fetch(`${dev.url}/v1/topics`)).rejects.toThrow();
      expect(await poll).toBe(200);
      expect(Date.now() - sent).toBeGreaterThanOrEqual(2900);
      expect(await dev.exited).toBe(0);
      expect(dev.output()).not.toContain("[maintenance] failed");
    } finally {
      stopDev(dev);
    }
  }, 90_000);

  it.skipIf(!javaAvailable)("stops with an error naming DynamoDB Local, rather than serve on, when DynamoDB Local dies under it", async () => {
    const dev = await startDev(["--dynamo", "dynamodb-local"]);
    try {
      const dynamoPort = dev.output().match(/AWS_ENDPOINT_URL_DYNAMODB=http:\/\/127\.0\.0\.1:(\d+)/)?.[1] ?? "none";
      const [java] = withPort(dynamoPort);
      expect(java).toBeDefined();
      process.kill(java as number, "SIGKILL");
      expect(await Promise.race([dev.exited, new Promise((r) => setTimeout(() => r("still serving"), 20_000))])).toBe(1);
      expect(dev.output()).toMatch(/Error: DynamoDB Local exited \(code 137\) while the stack was running: http:\/\/127\.0\.0\.1:\d+ answers no more/);
      for (let i = 0; i < 50 && alive(dev.pid).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(alive(dev.pid)).toEqual([]);
    } finally {
      stopDev(dev);
    }
  }, 90_000);
});

describe("seglog dev --data-dir", () => {
  it("refuses a data directory another seglog dev runs on, naming it and that one's pid; Ctrl-C releases it", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "seglog-test-data-"));
    const first = await startDev(["--data-dir", dataDir]);
    try {
      const second = await runCli(["dev", "--port", "0", "--data-dir", dataDir]);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`the data directory ${dataDir} is in use by another local stack, pid ${first.pid}`);
      expect((await fetch(`${first.url}/v1/topics`)).status).toBe(200); // the first one is untouched
      process.kill(-first.pid, "SIGINT");
      expect(await first.exited).toBe(0);
      expect(existsSync(join(dataDir, "seglog.lock"))).toBe(false);
    } finally {
      stopDev(first);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  it.skipIf(!javaAvailable)("refuses to show an empty log over DynamoDB Local's tables when Java is missing", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "seglog-test-data-"));
    const noJava = mkdtempSync(join(tmpdir(), "seglog-test-nojava-"));
    try {
      const stack = await startLocalStack({ dataDir, dynamo: "dynamodb-local" });
      await stack.stop();
      const { code, stderr } = await runCli(["dev", "--port", "0", "--data-dir", dataDir], { env: { JAVA_HOME: noJava }, timeoutMs: 30_000 });
      expect(code).toBe(1);
      expect(stderr).toContain(`the data directory ${dataDir} holds DynamoDB Local's tables, and DynamoDB Local cannot run here: cannot run ${noJava}/bin/java -version`);
      expect(stderr).toContain("It needs Java 17+");
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(noJava, { recursive: true, force: true });
    }
  }, 60_000);

  it("names a data directory it may not write to as not writable (EACCES), not as missing", async () => {
    const parent = mkdtempSync(join(tmpdir(), "seglog-test-ro-"));
    try {
      chmodSync(parent, 0o555);
      // root may write anywhere: run as nobody then, for whom the directory is read-only.
      const user = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
      for (const dataDir of [parent, join(parent, "data")]) {
        const { code, stderr } = await runAs(user, ["dev", "--port", "0", "--data-dir", dataDir]);
        expect(code).toBe(1);
        expect(stderr).toContain(`the data directory ${dataDir} is not writable: permission denied (EACCES)`);
      }
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it("names a data directory under a file as not writable (ENOTDIR)", async () => {
    const parent = mkdtempSync(join(tmpdir(), "seglog-test-file-"));
    try {
      writeFileSync(join(parent, "file"), "");
      const dataDir = join(parent, "file", "data");
      const { code, stderr } = await runCli(["dev", "--port", "0", "--data-dir", dataDir]);
      expect(code).toBe(1);
      expect(stderr).toContain(`the data directory ${dataDir} is not writable: a part of its path is a file, not a directory (ENOTDIR)`);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

/** Runs `seglog args…` as another user (`{}`: this one). */
function runAs(user: { uid?: number; gid?: number }, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SEGLOG_BIN, ...args], { ...user, timeout: 60_000 }, (error, _stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr }),
    );
  });
}
