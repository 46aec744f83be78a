/**
 * `npm run bench`: runs every suite, prints a table per suite, and saves all results to
 * `bench/results/<ISO date>.json`. To add a suite, append it to `SUITES`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCodecBench, type CodecBenchResult } from "./codec.ts";

/** Rows by label, columns by name: what `console.table` prints. */
type Table = Record<string, Record<string, string>>;

interface Suite {
  name: string;
  run: () => Promise<{ result: unknown; table: Table }>;
}

const fmt = (n: number, digits = 1): string => n.toFixed(digits);
const count = (n: number): string => Math.round(n).toLocaleString("en-US");

const codecTable = (r: CodecBenchResult): Table => {
  const row = (m: { msPerBatch: number; mbPerSec: number; recordsPerSec: number }, ratio?: number) => ({
    "ms/batch": fmt(m.msPerBatch, 3),
    "MB/s": fmt(m.mbPerSec),
    "records/s": count(m.recordsPerSec),
    "× kafkajs": ratio === undefined ? "" : fmt(ratio, 2),
  });
  return {
    "seglog encode": row(r.seglog.encode, r.ratio.encode),
    "kafkajs encode": row(r.kafkajs.encode),
    "seglog decode (CRC checked)": row(r.seglog.decode, r.ratio.decode),
    "seglog decode (no CRC, as kafkajs)": row(r.seglog.decodeNoCrc, r.ratio.decodeSameWork),
    "kafkajs decode (no CRC)": row(r.kafkajs.decode),
    "seglog crc32c alone": row(r.seglog.crc32c),
  };
};

const SUITES: Suite[] = [
  {
    name: "codec",
    run: async () => {
      const result = await runCodecBench();
      return { result, table: codecTable(result) };
    },
  },
];

const results: Record<string, unknown> = {};
for (const suite of SUITES) {
  const { result, table } = await suite.run();
  results[suite.name] = result;
  console.log(`\n${suite.name}`);
  console.table(table);
}

const when = new Date().toISOString();
const dir = join(dirname(fileURLToPath(import.meta.url)), "results");
mkdirSync(dir, { recursive: true });
const file = join(dir, `${when.replace(/:/g, "-")}.json`);
writeFileSync(
  file,
  `${JSON.stringify({ date: when, node: process.version, platform: `${process.platform}-${process.arch}`, results }, null, 2)}\n`,
);
console.log(`\nsaved ${file}`);
