import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./output.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** `parseArgs` with Seglog's common `--url` and usage errors instead of throws. */
export function parse<O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...options, url: { type: "string" } }, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function intArg(value: string | undefined, name: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < min) throw new UsageError(`--${name} must be an integer ≥ ${min}`);
  return Number(value);
}

export function required(value: string | undefined, name: string): string {
  if (value === undefined || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

/** `--config k=v` pairs, as kafka-topics.sh takes them. */
export function configArg(values: string[] | undefined): Record<string, string> | undefined {
  if (!values || values.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const kv of values) {
    const at = kv.indexOf("=");
    if (at <= 0) throw new UsageError(`--config takes key=value, not '${kv}'`);
    out[kv.slice(0, at)] = kv.slice(at + 1);
  }
  return out;
}

/** `--read-from storage|api`: where a consumer reads the stored bytes (`ConsumerOptions.readFrom`). */
export function readFromArg(value: string | undefined): "storage" | "api" {
  if (value === undefined || value === "storage" || value === "api") return value ?? "storage";
  throw new UsageError(`--read-from must be storage or api, not '${value}'`);
}
