/**
 * The bench's sizes, from the environment, with defaults in one place. The defaults keep
 * `npm run bench` to a few minutes on 2 cores; `BENCH_QUICK=1` runs every suite at a toy size
 * (a smoke test, not numbers to quote).
 *
 *   BENCH_QUICK=1              tiny sizes everywhere
 *   BENCH_SUITES=a,b           only these suites (codec, log, readAhead, latency, merge, widePoll, coldStart)
 *   BENCH_BATCH_SIZES=16384,…  producer batch sizes in bytes (default 16 KiB, 256 KiB, 1 MiB)
 *   BENCH_MB=64                MB (2^20 bytes) produced per round per batch size ≥ 64 KiB
 *   BENCH_SMALL_MB=8           MB produced per round for smaller batch sizes (slow per byte)
 *   BENCH_ROUNDS=3             rounds per batch size, Seglog and bare runs alternating
 *   BENCH_CONCURRENCY=4        partitions of each topic = requests in flight = bare workers
 *   BENCH_RECORD_BYTES=1024
 *   BENCH_COLD_RUNS=5          fresh processes per function bundle
 *   BENCH_CODEC_ITERATIONS=60
 */
export interface BenchConfig {
  readonly quick: boolean;
  readonly suites: readonly string[] | undefined;
  readonly batchSizes: readonly number[];
  readonly mbPerRun: number;
  readonly smallMbPerRun: number;
  readonly rounds: number;
  readonly concurrency: number;
  readonly recordBytes: number;
  readonly coldStartRuns: number;
  readonly codecIterations: number;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, not '${raw}'`);
  return n;
}

export function benchConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const quick = env["BENCH_QUICK"] === "1" || env["BENCH_QUICK"] === "true";
  const sizes = env["BENCH_BATCH_SIZES"];
  return {
    quick,
    suites: env["BENCH_SUITES"] ? env["BENCH_SUITES"].split(",").map((s) => s.trim()) : undefined,
    batchSizes: sizes ? sizes.split(",").map((s) => int({ v: s }, "v", 0)) : [16_384, 262_144, 1_048_576],
    mbPerRun: int(env, "BENCH_MB", quick ? 2 : 64),
    smallMbPerRun: int(env, "BENCH_SMALL_MB", quick ? 1 : 8),
    rounds: int(env, "BENCH_ROUNDS", quick ? 1 : 3),
    concurrency: int(env, "BENCH_CONCURRENCY", 4),
    recordBytes: int(env, "BENCH_RECORD_BYTES", 1024),
    coldStartRuns: int(env, "BENCH_COLD_RUNS", quick ? 1 : 5),
    codecIterations: int(env, "BENCH_CODEC_ITERATIONS", quick ? 5 : 60),
  };
}
