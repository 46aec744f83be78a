import { spawn, type ChildProcess } from "node:child_process";

/**
 * Child processes that must not outlive this one.
 *
 * Three layers, because each misses a case the next catches:
 * 1. `stop()` — the normal path.
 * 2. Handlers on `exit`, SIGINT, SIGTERM and SIGHUP, installed once while anything is registered —
 *    a failed test, an uncaught exception, Ctrl-C. A signal another listener handles is left to
 *    it (`seglog dev` lets requests in flight finish before it stops the stack); the `exit`
 *    handler still runs when that listener ends the process.
 * 3. A watchdog around the child — `kill -9` of this process, where no handler runs. The child's
 *    stdin is a pipe from us; when we die the kernel closes it, the watchdog reads end-of-file and
 *    kills the child (TERM, then KILL after 5 s). DynamoDB Local never reads stdin, hence the
 *    wrapper. Not on Windows (no `sh`): there only layers 1 and 2 hold.
 */

type Cleanup = () => void;

const cleanups = new Set<Cleanup>();
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
let installed = false;

function runCleanups(): void {
  for (const cleanup of [...cleanups]) {
    cleanups.delete(cleanup);
    try {
      cleanup();
    } catch {
      // The process is going away; one failed cleanup must not stop the others.
    }
  }
  uninstall();
}

function onExit(): void {
  runCleanups();
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  runCleanups();
  // Our listener replaced the default action (terminate): with it gone, re-raise, so that Ctrl-C
  // still stops the program.
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", onExit);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.removeListener("exit", onExit);
  for (const signal of SIGNALS) process.removeListener(signal, onSignal);
}

/**
 * Runs `cleanup` (synchronously) if this process exits or is signalled before the returned
 * function is called. The returned function deregisters without running it.
 */
export function onProcessExit(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  install();
  return () => {
    cleanups.delete(cleanup);
    if (cleanups.size === 0) uninstall();
  };
}

/**
 * `sh -c WATCHDOG sh command args…`: starts the command with stdin from /dev/null, keeps our
 * stdin pipe on fd 3 for a watcher, and exits with the command's status.
 */
const WATCHDOG = [
  "exec 3<&0",
  '"$@" </dev/null 3<&- &',
  "child=$!",
  "(",
  "  cat <&3 >/dev/null",
  "  kill $child 2>/dev/null",
  "  i=0",
  "  while kill -0 $child 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done",
  "  kill -9 $child 2>/dev/null",
  ") </dev/null >/dev/null 2>&1 &",
  "exec 3<&- </dev/null",
  "wait $child",
].join("\n");

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface GuardedProcess {
  /** Pid of the wrapper, which leads the process group holding the command. */
  readonly pid: number;
  /** Resolves when the command has exited (the wrapper waits for it). */
  readonly exited: Promise<ExitStatus>;
  /** True once the command has exited. */
  hasExited(): boolean;
  /** The last few kilobytes of the command's stdout and stderr, interleaved. */
  outputTail(): string;
  /** Asks the command to stop (SIGTERM), waits up to `graceMs`, then kills the whole group. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnGuardedOptions {
  cwd?: string;
  /** Called with each line of the command's output. */
  onLine?: (line: string) => void;
  /** How much output {@link GuardedProcess.outputTail} keeps. @default 8192 */
  tailBytes?: number;
}

/** Starts `command args…` so that it dies with this process (see the module comment). */
export function spawnGuarded(command: string, args: readonly string[], options: SpawnGuardedOptions = {}): GuardedProcess {
  const tailBytes = options.tailBytes ?? 8192;
  const watched = process.platform !== "win32";
  const child: ChildProcess = watched
    ? spawn("/bin/sh", ["-c", WATCHDOG, "seglog-watchdog", command, ...args], {
        cwd: options.cwd,
        // Its own process group, so one kill reaches the wrapper, the watcher and the command.
        detached: true,
        stdio: ["pipe", "pipe", "pipe"],
      })
    : spawn(command, [...args], { cwd: options.cwd, stdio: ["pipe", "pipe", "pipe"] });

  let tail = "";
  let partial = "";
  const onData = (chunk: Buffer): void => {
    const text = chunk.toString("utf8");
    tail = (tail + text).slice(-tailBytes);
    if (!options.onLine) return;
    const lines = (partial + text).split(/\r?\n/);
    partial = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") options.onLine(line);
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);

  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, signal) => {
      status = { code, signal };
      resolve(status);
    });
    child.once("error", (error) => {
      tail = (tail + `\n${error.message}`).slice(-tailBytes);
      status = { code: null, signal: null };
      resolve(status);
    });
  });

  const pid = child.pid ?? -1;
  const killAll = (signal: NodeJS.Signals): void => {
    if (pid <= 0) return;
    try {
      if (watched) process.kill(-pid, signal);
      else child.kill(signal);
    } catch {
      // ESRCH: already gone.
    }
  };
  const deregister = onProcessExit(() => killAll("SIGKILL"));
  // A forgotten stop() must not keep the event loop alive; the exit handler still kills it.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    (stream as { unref?: () => void } | null)?.unref?.();
  }

  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 5000): Promise<void> => {
    stopping ??= (async () => {
      if (status === undefined) {
        if (watched) child.stdin?.destroy();
        else child.kill("SIGTERM");
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
        ]);
        clearTimeout(timer);
        if (timedOut) {
          killAll("SIGKILL");
          await exited;
        }
      }
      // Sweep the watcher and anything else left in the group.
      killAll("SIGKILL");
      child.stdin?.destroy();
      child.stdout?.destroy();
      child.stderr?.destroy();
      deregister();
    })();
    return stopping;
  };

  return {
    pid,
    exited,
    hasExited: () => status !== undefined,
    outputTail: () => tail,
    stop,
  };
}

/** Whether a process with this pid exists (EPERM: it does, owned by another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
