import { invalid } from "../core/errors.ts";
import { isWellFormed } from "../core/unicode.ts";
import type { HttpRequest } from "./event.ts";

/** Parsing and validation helpers for request bodies and query strings: every input is checked. */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export function jsonBody(req: HttpRequest): JsonObject {
  if (req.body.byteLength === 0) throw invalid("Request body is empty; expected JSON", "InvalidJson");
  let text: string;
  try {
    text = UTF8.decode(req.body);
  } catch {
    // Decoded leniently, its bytes would be stored changed (each bad sequence as U+FFFD).
    throw invalid("Request body is not UTF-8 text; expected JSON", "InvalidJson");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw invalid(`Request body is not valid JSON: ${(e as Error).message}`, "InvalidJson");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw invalid("Request body must be a JSON object", "InvalidJson");
  }
  return parsed as JsonObject;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** A JSON string to store as UTF-8: `Invalid` for one with a lone surrogate ("\ud800"), which
 * UTF-8 cannot hold (it would be stored as U+FFFD). */
export function wellFormed(s: string, what: string): string {
  if (!isWellFormed(s)) throw invalid(`${what} is not well-formed Unicode (a lone surrogate), so not UTF-8 text; send its bytes in base64`);
  return s;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function onlyKeys(obj: JsonObject, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw invalid(`Unknown field '${k}' in ${what}; allowed: ${allowed.join(", ")}`);
  }
}

export function optionalInt(v: Json | undefined, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
    throw invalid(`${name} must be an integer from ${min} to ${max}`);
  }
  return v;
}

export function queryInt(req: HttpRequest, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = req.query[name];
  if (raw === undefined || raw === "") return undefined;
  if (!/^-?\d+$/.test(raw)) throw invalid(`Query parameter ${name} must be an integer`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalid(`Query parameter ${name} must be from ${min} to ${max}`);
  return n;
}

export function queryBoolean(req: HttpRequest, name: string, fallback: boolean): boolean {
  const raw = req.query[name];
  if (raw === undefined || raw === "") return fallback;
  if (raw !== "true" && raw !== "false") throw invalid(`Query parameter ${name} must be true or false`);
  return raw === "true";
}

/** A partition in a path: Kafka's are int32. */
export function pathInt(raw: string, name: string): number {
  const n = Number(raw);
  if (!/^\d{1,10}$/.test(raw) || n > 2 ** 31 - 1) throw invalid(`${name} must be an integer from 0 to ${2 ** 31 - 1}`);
  return n;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function fromBase64(s: string, what: string): Uint8Array {
  if (!BASE64.test(s)) throw invalid(`${what} is not valid base64`, "InvalidBase64");
  return Buffer.from(s, "base64");
}
