import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin } from "../../../src/client/admin.ts";
import type { LocalApi } from "../../../src/local/server.ts";
import { spawn } from "node:child_process";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SEGLOG_BIN, runCli } from "../../helpers/cli.ts";
import { startTestApi, testLog } from "../../helpers/log.ts";
import { testEnv, uniqueName } from "../../helpers/stack.ts";

let api: LocalApi;
beforeAll(async () => {
  api = await startTestApi({ log: testLog().log });
});
afterAll(() => api.close());

describe("the console CLI (README quick start)", () => {
  it("creates a topic, pipes 1,000 lines in and reads all of them back, each partition in order", async () => {
    const env = { SEGLOG_URL: api.url };
    const topic = uniqueName("quick");
    const created = await runCli(["topics", "--create", "--topic", topic, "--partitions", "3"], { env });
    expect(created).toMatchObject({ code: 0, stdout: `Created topic ${topic}.\n` });
    const lines = Array.from({ length: 1000 }, (_, i) => `${i + 1}`).join("\n") + "\n";
    expect((await runCli(["produce", "--topic", topic, "--key-separator", ":"], { env, stdin: lines.replace(/^(\d*?)(\d)$/gm, "$2:$1$2") })).code).toBe(0);
    const consumed = await runCli(["consume", "--topic", topic, "--from-beginning", "--max-messages", "1000", "--print-key", "--print-offset"], { env });
    expect(consumed.code).toBe(0);
    expect(consumed.stderr).toContain("Processed a total of 1000 messages");
    const rows = consumed.stdout.trim().split("\n").map((l) => l.match(/^Partition:(\d+)\tOffset:(\d+)\t(\d)\t(\d+)$/));
    expect(rows.every((m) => m !== null)).toBe(true);
    expect(new Set(rows.map((m) => Number(m?.[4]))).size).toBe(1000);
    for (const p of ["0", "1", "2"]) {
      const mine = rows.filter((m) => m?.[1] === p);
      expect(mine.map((m) => Number(m?.[2]))).toEqual(mine.map((_, i) => i)); // offsets in order, none missing
      const values = mine.map((m) => Number(m?.[4]));
      expect(values).toEqual([...values].sort((a, b) => a - b)); // stdin order kept per partition
    }
    // The same key (last digit) always lands on the same partition.
    const partitionOfKey = new Map<string, string>();
    for (const m of rows) {
      const seen = partitionOfKey.get(m?.[3] ?? "");
      if (seen !== undefined) expect(m?.[1]).toBe(seen);
      partitionOfKey.set(m?.[3] ?? "", m?.[1] ?? "");
    }
  });

  it("lists, describes, alters and deletes topics like kafka-topics.sh", async () => {
    const env = { SEGLOG_URL: api.url };
    const topic = uniqueName("admin");
    await runCli(["topics", "--create", "--topic", topic, "--partitions", "1", "--config", "retention.ms=60000"], { env });
    expect((await runCli(["topics", "--list"], { env })).stdout.split("\n")).toContain(topic);
    // --topic with --list is a regular expression the names must match whole, as in kafka-topics.sh.
    expect((await runCli(["topics", "--list", "--topic", topic], { env })).stdout).toBe(`${topic}\n`);
    expect((await runCli(["topics", "--list", "--topic", `${topic.slice(0, -3)}.*`], { env })).stdout).toBe(`${topic}\n`);
    expect((await runCli(["topics", "--list", "--topic", topic.slice(0, -3)], { env })).stdout).toBe("");
    await runCli(["produce", "--topic", topic], { env, stdin: "a\nb\n" });
    const described = await runCli(["topics", "--describe", "--topic", topic], { env });
    expect(described.stdout).toContain(`PartitionCount: 1\tConfigs: retention.ms=60000`);
    expect(described.stdout).toContain(`Partition: 0\tLogStartOffset: 0\tHighWatermark: 2`);
    expect(await runCli(["topics", "--alter", "--topic", topic, "--partitions", "2"], { env })).toMatchObject({ code: 0, stdout: `Altered topic ${topic}: 2 partitions.\n` });
    const retention = await runCli(["topics", "--alter", "--topic", topic, "--config", "retention.ms=120000"], { env });
    expect(retention).toMatchObject({ code: 0, stdout: `Altered topic ${topic}: 2 partitions; retention.ms=120000.\n` });
    expect((await runCli(["topics", "--describe", "--topic", topic], { env })).stdout).toContain("PartitionCount: 2");
    const one = await runCli(["consume", "--topic", topic, "--partition", "0", "--offset", "1", "--max-messages", "1"], { env });
    expect(one.stdout).toBe("b\n");
    expect((await runCli(["topics", "--delete", "--topic", topic], { env })).code).toBe(0);
    expect((await runCli(["topics", "--list"], { env })).stdout.split("\n")).not.toContain(topic);
  }, 90_000); // 14 CLI processes one after another, each starting node and tsx: 12–19 s in full runs

  it("prints one clear error line and exits non-zero, never a stack trace", async () => {
    const env = { SEGLOG_URL: api.url };
    const downEnv = { SEGLOG_URL: "http://127.0.0.1:9" };
    const costArgs = ["--record-bytes", "1024", "--batch-bytes", "262144", "--consumer-groups", "1", "--retention-days", "1"];
    // Each its own process, all at once: what each prints is checked below.
    const [missing, usage, noGroup, down, produceDown, badLinger, partial, badCost, notADate, noTopic, help, badSetting] = await Promise.all([
      runCli(["topics", "--describe", "--topic", uniqueName("missing")], { env }),
      runCli(["topics", "--create"], { env }),
      runCli(["consume", "--topic", "t", "--group", ""], { env }),
      runCli(["topics", "--list"], { env: downEnv }),
      runCli(["produce", "--topic", "t", "--delivery-timeout-ms", "300"], { env: downEnv, stdin: Array.from({ length: 12 }, (_, i) => `r${i}`).join("\n") }),
      runCli(["produce", "--topic", "t", "--linger-ms", "abc"], { env, stdin: "" }),
      runCli(["produce", "--topic", uniqueName("missing"), "--key-separator", ":"], { env, stdin: "a\n" }),
      runCli(["cost", "--mb-per-sec", "0", ...costArgs]),
      runCli(["groups", "--reset-offsets", "--group", "g", "--topic", "t", "--to-datetime", "5"], { env }),
      runCli(["maintenance", "--once", "--topic", uniqueName("missing")], { env: testEnv() }),
      runCli(["--help"]),
      // A setting the functions could not run with stops `seglog dev` before it starts anything.
      runCli(["dev", "--port", "0"], { env: { SEGLOG_POLL_INTERVAL_MS: "fast" } }),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^Error: Unknown topic '.*' \(NotFound\)\n$/);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--topic is required");
    expect(noGroup).toMatchObject({ code: 2, stderr: expect.stringContaining("--group is required") });
    expect(down.code).toBe(1);
    expect(down.stderr.trim().split("\n")).toHaveLength(1);
    expect(down.stderr).toMatch(/Cannot reach Seglog at http:\/\/127\.0\.0\.1:9/);
    // The same from produce: each line the error cost, the first 10 by name, then how many in all.
    expect(produceDown.code).toBe(1);
    const said = produceDown.stderr.trim().split("\n");
    expect(said).toHaveLength(11);
    expect(said.slice(0, 10).map((l) => Number(/^line (\d+): not acknowledged, and may be in the log: Cannot reach Seglog at http:\/\/127\.0\.0\.1:9/.exec(l)?.[1])).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
    expect(said[9]).toContain("(later lines failing so are counted, not named)");
    expect(said[10]).toMatch(/^12 of 12 records \(first line 1, last line 12\) not acknowledged, and may be in the log: Cannot reach Seglog at http:\/\/127\.0\.0\.1:9/);
    // A bad option value is a usage error, not a failure.
    expect(badLinger).toMatchObject({ code: 2, stderr: expect.stringContaining("--linger-ms must be an integer from 0 to 2147483647") });
    // A send that fails names its line, and the others go.
    expect(partial.stderr).toMatch(/^line 1: refused: Unknown topic '.*' \(NotFound\)\n1 of 1 records refused: Unknown topic/);
    expect(badCost).toMatchObject({ code: 2, stderr: expect.stringContaining("--mb-per-sec must be a number above 0") });
    expect(notADate).toMatchObject({ code: 2, stderr: expect.stringContaining("--to-datetime takes an ISO 8601 time") });
    expect(noTopic).toMatchObject({ code: 1, stderr: expect.stringMatching(/^Error: Unknown topic '.*' \(NotFound\)\n$/) });
    expect(help.stdout).toContain("Usage: seglog <command>");
    expect(badSetting.code).toBe(2);
    expect(badSetting.stderr).toContain("SEGLOG_POLL_INTERVAL_MS must be a whole number of ms, not 'fast'");
    expect(badSetting.stdout).not.toContain("[stack]");
  }, 90_000); // 12 CLI processes at once: 9–13 s in full runs

  it("refuses option values it cannot run with as usage errors (exit 2) naming the option, before it starts anything", async () => {
    const env = { SEGLOG_URL: api.url };
    const runs = await Promise.all(
      [
        [["consume", "--topic", "t", "--partition", "-1"], "--partition must be an integer ≥ 0"],
        [["consume", "--topic", "t", "--partition", "0", "--offset", "99999999999999999999"], "--offset must be an integer ≥ 0"],
        [["consume", "--topic", "t", "--partition", "0", "--offset", "5", "--from-beginning"], "--offset and --from-beginning cannot be used together"],
        [["produce", "--topic", "t", "--linger-ms", "-5"], "--linger-ms must be an integer from 0 to 2147483647"],
        [["produce", "--topic", "t", "--key-separator", ""], "--key-separator must not be empty"],
        [["produce", "--topic", "t", "--delivery-timeout-ms", "0"], "--delivery-timeout-ms must be an integer from 1 to 2147483647"],
        [["produce", "--topic", "t", "--linger-ms", "200000"], "--delivery-timeout-ms (120000, the default) must be above --linger-ms (200000)"],
        [["dev", "--port", "70000"], "--port must be an integer from 0 to 65535"],
        [["topics", "--list", "--topic", "("], "--topic '(' is not a regular expression"],
      ].map(async ([args, message]) => ({ message, run: await runCli(args as string[], { env, stdin: "a\n" }) })),
    );
    for (const { message, run } of runs) expect(run, String(message)).toMatchObject({ code: 2, stderr: expect.stringContaining(message as string) });
  }, 90_000); // 9 CLI processes at once: 6–17 s in full runs

  it("stops quietly when the reader of its output goes away (| head), without a stack trace", async () => {
    const child = spawn(process.execPath, [SEGLOG_BIN, "cost", "--mb-per-sec", "1", "--record-bytes", "1024", "--batch-bytes", "262144", "--consumer-groups", "1", "--retention-days", "1"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.destroy(); // the reader is gone before the first line
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("reads the partitions a topic gains while it runs, from their start, as Kafka's console consumer does", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("grows");
    await admin.createTopic(topic, { partitions: 1 });
    const { log } = testLog();
    await log.produceRecords(topic, [{ key: null, value: Buffer.from("first"), partition: 0 }]);
    const child = spawn(process.execPath, [SEGLOG_BIN, "consume", "--topic", topic, "--print-offset", "--from-beginning", "--url", api.url], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
    const until = async (what: () => boolean) => {
      for (let i = 0; i < 300 && !what(); i++) await new Promise((r) => setTimeout(r, 100));
    };
    await until(() => stdout.includes("first"));
    await admin.alterTopic(topic, { partitions: 3 });
    await log.produceRecords(topic, [1, 2].map((partition) => ({ key: null, value: Buffer.from(`new${partition}`), partition })));
    await until(() => stdout.includes("new1") && stdout.includes("new2"));
    child.kill("SIGTERM");
    expect(await closed).toBe(0);
    expect(stdout.trim().split("\n").sort()).toEqual(["Partition:0\tOffset:0\tfirst", "Partition:1\tOffset:0\tnew1", "Partition:2\tOffset:0\tnew2"]);
  }, 60_000);

  it("as a group member whose reader goes away, leaves the group as on Ctrl-C", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("piped");
    const group = uniqueName("piped-group");
    await admin.createTopic(topic, { partitions: 1 });
    const { log } = testLog();
    await log.produceRecords(topic, [{ key: null, value: Buffer.from("one") }]);
    const child = spawn(process.execPath, [SEGLOG_BIN, "consume", "--topic", topic, "--group", group, "--from-beginning", "--url", api.url], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    expect(stderr).toContain("Processed a total of 1 messages");
    expect(stderr).not.toContain("    at ");
    const described = await admin.describeGroup(group);
    expect(described.members).toEqual([]); // left, not waiting for its session to time out
    expect(described.partitions.map((p) => p.committedOffset)).toEqual([1]);
  });

  it("in an outage, names one failure summary line per kind of error, not one per batch's message, and ends a consume on Ctrl-C at once", async () => {
    const proxy = await outageProxy(api.url);
    try {
      const topic = uniqueName("outage");
      await new Admin({ url: api.url }).createTopic(topic, { partitions: 4 });
      // The producer ids cannot be had: every batch (four partitions' worth) waits out its
      // delivery timeout, and each says how many records waited how long.
      proxy.refuse = (req) => req.method === "POST" && req.url === "/v1/producers";
      const lines = Array.from({ length: 40 }, (_, i) => `k${i}:v${i}`).join("\n") + "\n";
      const produced = await runCli(["produce", "--topic", topic, "--key-separator", ":", "--delivery-timeout-ms", "1000", "--url", proxy.url], { stdin: lines });
      expect(produced.code).toBe(1);
      const said = produced.stderr.trim().split("\n");
      expect(said.filter((l) => l.startsWith("line "))).toHaveLength(10);
      expect(said.filter((l) => !l.startsWith("line "))).toEqual([
        expect.stringMatching(/^40 of 40 records \(first line 1, last line 40\) not acknowledged, and may be in the log: Expired before it was sent(, with no producer id to send it under \(HTTP 503 from [^)]*\))?: \d+ record\(s\) waited \d+ ms, past deliveryTimeoutMs \(1000\) \(Internal\/DeliveryTimeout\)$/),
      ]);

      // A consume whose API stops answering mid-poll ends on Ctrl-C, not after the poll's retries.
      proxy.refuse = undefined;
      await new Admin({ url: api.url }).createTopic(`${topic}-read`);
      await testLog().log.produceRecords(`${topic}-read`, [{ key: null, value: Buffer.from("one"), partition: 0 }]);
      const child = spawn(process.execPath, [SEGLOG_BIN, "consume", "--topic", `${topic}-read`, "--from-beginning", "--url", proxy.url], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
      for (let i = 0; i < 300 && !stdout.includes("one"); i++) await new Promise((r) => setTimeout(r, 100));
      proxy.silent = true;
      await new Promise((r) => setTimeout(r, 1500)); // its next polls wait on answers that do not come
      const interrupted = performance.now();
      child.kill("SIGINT");
      expect(await closed).toBe(0);
      // Before, it waited out the poll's requestTimeoutMs (30 s) and retries: 183 s in one audit.
      expect(performance.now() - interrupted).toBeLessThan(5000);
      expect(stdout).toBe("one\n");
      expect(stderr).toContain("Processed a total of 1 messages");
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it("sends the lines it has read when a produce is stopped with Ctrl-C, as Kafka's console producer closes its producer, instead of dropping them", async () => {
    const topic = uniqueName("ctrl-c");
    await new Admin({ url: api.url }).createTopic(topic);
    // Through a proxy that sees the producer's first request (its read of the topic): by then it
    // has read a line and will take Ctrl-C, however long the process took to start.
    const proxy = await outageProxy(api.url);
    let asked = false;
    proxy.refuse = () => ((asked = true), false);
    try {
      // Lines still lingering in their batch (30 s) when Ctrl-C comes, and stdin still open.
      const child = spawn(process.execPath, [SEGLOG_BIN, "produce", "--topic", topic, "--linger-ms", "30000", "--url", proxy.url], { stdio: ["pipe", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
      child.stdin.write("line-one\nline-two\n");
      for (let i = 0; i < 300 && !asked; i++) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 200));
      child.kill("SIGINT");
      expect(await closed).toBe(130);
      expect(stderr).toBe("Sending the lines read so far (Ctrl-C again to exit at once)\n");
      expect(await new Admin({ url: api.url }).offsetFor(topic, 0, "latest")).toMatchObject({ offset: 2 });
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it("rides out an outage in a consume, as Kafka's console consumer does, and prints what came meanwhile once the API answers again", async () => {
    const proxy = await outageProxy(api.url);
    try {
      const topic = uniqueName("ride-out");
      await new Admin({ url: api.url }).createTopic(topic);
      const writer = testLog().log;
      await writer.produceRecords(topic, [{ key: null, value: Buffer.from("before"), partition: 0 }]);
      const child = spawn(process.execPath, [SEGLOG_BIN, "consume", "--topic", topic, "--from-beginning", "--url", proxy.url], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
      const until = async (what: () => boolean) => {
        for (let i = 0; i < 300 && !what(); i++) await new Promise((r) => setTimeout(r, 100));
      };
      await until(() => stdout.includes("before"));
      // Every request refused for longer than the client's retries last (before, it exited 1 after 1.5 s).
      proxy.refuse = () => true;
      await until(() => stderr.includes("WARN"));
      await new Promise((r) => setTimeout(r, 3000));
      await writer.produceRecords(topic, [{ key: null, value: Buffer.from("during"), partition: 0 }]);
      proxy.refuse = undefined;
      await until(() => stdout.includes("during"));
      child.kill("SIGINT");
      expect(await closed).toBe(0);
      expect(stdout).toBe("before\nduring\n");
      expect(stderr).toMatch(/WARN .*HTTP 503.*retrying until it answers/);
      expect(stderr).toContain("Seglog answers again");
      expect(stderr).toContain("Processed a total of 2 messages");

      // With --timeout-ms, an outage that lasts it fails the command, naming why: not an empty topic.
      proxy.refuse = () => true;
      const timedOut = await runCli(["consume", "--topic", topic, "--partition", "0", "--offset", "0", "--timeout-ms", "2000", "--url", proxy.url]).catch((e: unknown) => e);
      expect(timedOut).toMatchObject({ code: 1, stderr: expect.stringMatching(/Processed a total of 0 messages\nError: .*HTTP 503/) });
    } finally {
      await proxy.close();
    }
  }, 60_000);
});

/** The API behind a proxy that can refuse requests (503, as API Gateway in an outage) or go silent (take them and never answer). */
async function outageProxy(target: string) {
  const held = new Set<ServerResponse>();
  const state = {
    url: "",
    refuse: undefined as ((req: IncomingMessage) => boolean) | undefined,
    silent: false,
    close: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const relay = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (state.silent) return void held.add(res);
    if (state.refuse?.(req)) return void res.writeHead(503, { "content-type": "application/json" }).end('{"message":"Service Unavailable"}');
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== "host" && k !== "connection") as [string, string][]);
    const answer = await fetch(target + req.url, { method: req.method, headers, ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}) });
    res.writeHead(answer.status, Object.fromEntries(answer.headers)).end(Buffer.from(await answer.arrayBuffer()));
  };
  // A request the API or the client drops midway is dropped here too, not an unhandled rejection.
  const server = createHttpServer((req, res) => void relay(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
