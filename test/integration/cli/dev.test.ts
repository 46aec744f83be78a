import { execFileSync, spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { SEGLOG_BIN } from "../../helpers/cli.ts";

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

describe("seglog dev (npm start)", () => {
  it("serves the API with its own stack, and Ctrl-C leaves no process behind", async () => {
    const child = spawn(process.execPath, [SEGLOG_BIN, "dev", "--port", "0"], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      const deadline = Date.now() + 60_000;
      while (!out.includes("Press Ctrl-C") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain("Press Ctrl-C to stop.");
      expect(out).toContain("serving the Lambda bundles in dist/functions"); // what cdk deploy ships
      expect(out).toMatch(/export AWS_ENDPOINT_URL_DYNAMODB=http:\/\/127\.0\.0\.1:\d+/);
      expect(out).toMatch(/export AWS_ENDPOINT_URL_S3=http:\/\/127\.0\.0\.1:\d+/);
      const url = out.match(/HTTP API\s+(http:\/\/127\.0\.0\.1:\d+)\/v1/)?.[1];
      const res = await fetch(`${url}/v1/topics`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ topics: [] });
      const dynamoPort = out.match(/AWS_ENDPOINT_URL_DYNAMODB=http:\/\/127\.0\.0\.1:(\d+)/)?.[1];
      const emulator = () => withPort(dynamoPort ?? "none");
      const separate = out.includes("DynamoDB: dynamodb-local") ? 1 : 0; // dynalite runs inside node
      expect(emulator().length).toBe(separate);
      process.kill(-(child.pid as number), "SIGINT");
      expect(await exited).toBe(0);
      // Children get a moment to finish dying after the parent exits; then none may be left.
      for (let i = 0; i < 50 && (alive(child.pid as number).length > 0 || emulator().length > 0); i++) await new Promise((r) => setTimeout(r, 100));
      expect(alive(child.pid as number)).toEqual([]);
      expect(emulator()).toEqual([]);
    } finally {
      try {
        process.kill(-(child.pid as number), "SIGKILL");
      } catch {
        // already gone
      }
    }
  }, 90_000);
});
