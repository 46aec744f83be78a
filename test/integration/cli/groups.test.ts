/**
 * The README's consumer-group walkthrough: two `seglog consume --group g` processes split the
 * partitions, Ctrl-C on one hands its partitions to the other, `groups --describe` shows lag,
 * and `--reset-offsets` is refused while the group has members and applied once it is empty.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalApi } from "../../../src/local/server.ts";
import { SEGLOG_BIN, runCli } from "../../helpers/cli.ts";
import { startTestApi, testGroups, testLog } from "../../helpers/log.ts";
import { uniqueName } from "../../helpers/stack.ts";

let api: LocalApi;
const running: ChildProcessWithoutNullStreams[] = [];
beforeAll(async () => {
  const { log } = testLog();
  const groups = testGroups(log, { sessionTimeoutMs: 1500, heartbeatIntervalMs: 250, takeoverMarginMs: 100, maxClockSkewMs: 25, partitionCacheMs: 0 });
  api = await startTestApi({ log, groups });
});
afterAll(async () => {
  for (const child of running) if (child.exitCode === null) child.kill("SIGKILL");
  await api.close();
});

/** A long-running `seglog` process whose output can be awaited line by line. */
class Running {
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcessWithoutNullStreams;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [SEGLOG_BIN, ...args], { env: { ...process.env, SEGLOG_URL: api.url }, stdio: "pipe" });
    running.push(this.child);
    this.child.stdout.on("data", (d) => (this.stdout += d));
    this.child.stderr.on("data", (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on("close", resolve));
  }

  /** The partitions it holds, from its "Assigned/Revoked partitions" lines. */
  holding(): number[] {
    const held = new Set<number>();
    for (const line of this.stderr.split("\n")) {
      const m = line.match(/^(Assigned|Revoked|Lost) partitions: (.*)$/);
      if (!m) continue;
      const ps = (m[2] ?? "").split(", ").map((tp) => Number(tp.split("-").at(-1)));
      for (const p of ps) (m[1] === "Assigned" ? held.add(p) : held.delete(p));
    }
    return [...held].sort((a, b) => a - b);
  }

  /** Partitions of the records it printed (`--print-offset`). */
  printedPartitions(): Set<number> {
    return new Set([...this.stdout.matchAll(/^Partition:(\d+)\t/gm)].map((m) => Number(m[1])));
  }

  lines(): string[] {
    return this.stdout.split("\n").filter((l) => l !== "");
  }

  interrupt(): void {
    this.child.kill("SIGINT");
  }
}

async function until(what: string, ok: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const keyed = (from: number, n: number) => Array.from({ length: n }, (_, i) => `k${from + i}:v${from + i}`).join("\n") + "\n";

/** `groups --describe` rows as objects, by the header. */
function describeRows(stdout: string): Record<string, string>[] {
  const lines = stdout.split("\n").filter((l) => l.trim() !== "");
  const at = lines.findIndex((l) => l.startsWith("GROUP"));
  const header = (lines[at] ?? "").split(/\s+/);
  return lines.slice(at + 1).map((l) => Object.fromEntries(l.split(/\s+/).map((v, i) => [header[i] ?? `${i}`, v])));
}

describe("seglog consume --group and seglog groups", () => {
  it("splits partitions between two processes, hands them over on Ctrl-C, shows lag and resets offsets only once the group is empty", async () => {
    const env = { SEGLOG_URL: api.url };
    const topic = uniqueName("cg");
    const group = uniqueName("g");
    expect((await runCli(["topics", "--create", "--topic", topic, "--partitions", "6"], { env })).code).toBe(0);

    const consume = ["consume", "--topic", topic, "--group", group, "--from-beginning", "--print-offset"];
    const one = new Running(consume);
    await until("the first process to get all 6 partitions", () => one.holding().length === 6);
    const two = new Running(consume);
    await until("a 3/3 split", () => one.holding().length === 3 && two.holding().length === 3);
    expect([...one.holding(), ...two.holding()].sort()).toEqual([0, 1, 2, 3, 4, 5]);

    expect((await runCli(["produce", "--topic", topic, "--key-separator", ":"], { env, stdin: keyed(0, 60) })).code).toBe(0);
    await until("60 records printed", () => one.lines().length + two.lines().length === 60);
    // Each printed only records of its own partitions.
    expect([...one.printedPartitions()].every((p) => one.holding().includes(p))).toBe(true);
    expect([...two.printedPartitions()].every((p) => two.holding().includes(p))).toBe(true);

    const live = await runCli(["groups", "--describe", "--group", group], { env });
    const owners = new Set(describeRows(live.stdout).map((r) => r["CONSUMER-ID"]));
    expect(owners.size).toBe(2);
    expect(owners.has("-")).toBe(false);

    one.interrupt();
    expect(await one.exited).toBe(0);
    expect(one.stderr).toMatch(/Revoked partitions: .*\nProcessed a total of \d+ messages\n$/);
    await until("the second process to take over", () => two.holding().length === 6, 5000);
    const before = two.lines().length;
    expect((await runCli(["produce", "--topic", topic, "--key-separator", ":"], { env, stdin: keyed(60, 30) })).code).toBe(0);
    await until("30 more records printed by the second", () => two.lines().length === before + 30);
    expect(one.lines().length + two.lines().length).toBe(90);

    const refused = await runCli(["groups", "--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--execute"], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Conflict\/GroupNotEmpty/);

    two.interrupt();
    expect(await two.exited).toBe(0);
    expect((await runCli(["produce", "--topic", topic, "--key-separator", ":"], { env, stdin: keyed(90, 12) })).code).toBe(0);
    const lagging = describeRows((await runCli(["groups", "--describe", "--group", group], { env })).stdout);
    expect(lagging).toHaveLength(6);
    expect(lagging.every((r) => r["CONSUMER-ID"] === "-")).toBe(true);
    expect(lagging.reduce((sum, r) => sum + Number(r["LAG"]), 0)).toBe(12);
    expect(lagging.reduce((sum, r) => sum + Number(r["CURRENT-OFFSET"]), 0)).toBe(90);

    const plan = await runCli(["groups", "--reset-offsets", "--group", group, "--topic", topic, "--to-earliest"], { env });
    expect(plan.code).toBe(0);
    expect(plan.stderr).toContain("--execute option is missing");
    expect(describeRows(plan.stdout).map((r) => r["NEW-OFFSET"])).toEqual(["0", "0", "0", "0", "0", "0"]);
    const unchanged = describeRows((await runCli(["groups", "--describe", "--group", group], { env })).stdout);
    expect(unchanged.reduce((sum, r) => sum + Number(r["CURRENT-OFFSET"]), 0)).toBe(90);

    const applied = await runCli(["groups", "--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--execute"], { env });
    expect(applied.code).toBe(0);
    const reset = describeRows((await runCli(["groups", "--describe", "--group", group], { env })).stdout);
    expect(reset.map((r) => r["CURRENT-OFFSET"])).toEqual(["0", "0", "0", "0", "0", "0"]);
    expect(reset.reduce((sum, r) => sum + Number(r["LAG"]), 0)).toBe(102);

    const replay = await runCli(["consume", "--topic", topic, "--group", group, "--max-messages", "102"], { env, timeoutMs: 20_000 });
    expect(replay.code).toBe(0);
    expect(replay.stderr).toContain("Processed a total of 102 messages");
    expect((await runCli(["groups", "--list"], { env })).stdout.split("\n")).toContain(group);
  }, 90_000); // some 15 CLI processes one after another, each starting node and tsx: 12 s alone, 27 s beside 3 busy cores

  it("refuses bad group command lines with a usage error", async () => {
    const env = { SEGLOG_URL: api.url };
    expect((await runCli(["groups", "--describe"], { env })).stderr).toContain("--group is required");
    const both = await runCli(["groups", "--reset-offsets", "--group", "g", "--topic", "t", "--to-earliest", "--to-latest"], { env });
    expect(both.code).toBe(2);
    const partition = await runCli(["consume", "--topic", "t", "--group", "g", "--partition", "0"], { env });
    expect(partition.stderr).toContain("--partition cannot be used with --group");
    const missing = await runCli(["groups", "--describe", "--group", uniqueName("none")], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does not exist \(NotFound\)/);
  });
});
