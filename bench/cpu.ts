/**
 * CPU time of processes, from Linux's `/proc` (user + system, the process and its descendants):
 * where the machine's time goes while a bench run lasts. Elsewhere every reading is undefined.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second: `getconf CLK_TCK`, 100 on Linux everywhere in practice. */
const TICKS_PER_SECOND = 100;

interface Proc {
  readonly ppid: number;
  readonly ticks: number;
}

function processes(): Map<number, Proc> | undefined {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  const out = new Map<number, Proc>();
  for (const d of entries) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      // Fields after the command name, which may hold spaces: state ppid … utime(14) stime(15).
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // The process ended while the table was read.
    }
  }
  return out;
}

/** CPU milliseconds used so far by `pid` itself, and by it with everything it started (and is still running). */
export function cpuMs(pid: number): { own: number; tree: number } | undefined {
  const all = processes();
  const self = all?.get(pid);
  if (all === undefined || self === undefined) return undefined;
  let ticks = 0;
  for (const [p, proc] of all) {
    for (let at: number | undefined = p; at !== undefined && at > 1; at = all.get(at)?.ppid) {
      if (at === pid) {
        ticks += proc.ticks;
        break;
      }
    }
  }
  const ms = (t: number) => (t * 1000) / TICKS_PER_SECOND;
  return { own: ms(self.ticks), tree: ms(ticks) };
}

/** How long a bench worker's work took, and the CPU its own process spent on it. */
export interface Timed {
  readonly seconds: number;
  readonly clientCpuMs: number;
}

/** Starts the clock on a worker's work; `stop()` reads it. */
export function stopwatch(): { stop(): Timed } {
  const started = performance.now();
  const cpu = process.cpuUsage();
  return {
    stop: () => {
      const { user, system } = process.cpuUsage(cpu);
      return { seconds: (performance.now() - started) / 1000, clientCpuMs: (user + system) / 1000 };
    },
  };
}
