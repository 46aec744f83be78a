import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./output.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * `parseArgs` with Seglog's common `--url` and usage errors instead of throws. A negative number
 * after an option is its value (`--throughput -1`, as Kafka's tools take it), not an option.
 */
export function parse<O extends Options>(args: string[], options: O) {
  const spelled: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const next = args[i + 1];
    if (arg.startsWith("--") && !arg.includes("=") && next !== undefined && /^-\d+$/.test(next)) {
      spelled.push(`${arg}=${next}`);
      i++;
    } else spelled.push(arg);
  }
  try {
    return parseArgs({ args: spelled, options: { ...options, url: { type: "string" } }, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** An integer option from `min` to `max` (a port, say), or undefined when it was not given. */
export function intArg(value: string | undefined, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${name} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`}`);
  }
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
