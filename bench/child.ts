/**
 * Runs a Node process for the bench (a perf tool, a bare-storage worker, a cold start) and
 * resolves with what it printed; a non-zero exit rejects with its stderr.
 */
import { spawn } from "node:child_process";

export function runNode(args: readonly string[], what: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${what} exited ${code}: ${stderr.trim() || stdout.trim()}`));
    });
  });
}

/** Runs a bench worker script with its task as one JSON argument; its last line is its JSON result. */
export async function runWorker<T>(script: string, task: unknown, what: string): Promise<T> {
  const out = await runNode(["--import", "tsx", script, JSON.stringify(task)], what);
  const line = out.trim().split("\n").at(-1);
  if (!line) throw new Error(`${what} printed no result`);
  return JSON.parse(line) as T;
}
