import type { AttributeValue } from "@aws-sdk/client-dynamodb";

/** A tiny marshaller for the flat items Seglog stores: strings, numbers and string maps. */
export type Item = Record<string, AttributeValue>;

export const S = (value: string): AttributeValue => ({ S: value });
export const N = (value: number): AttributeValue => ({ N: String(value) });

export const B = (value: Uint8Array): AttributeValue => ({ B: value });

export function bin(item: Item | undefined, name: string): Uint8Array | undefined {
  const v = item?.[name];
  return v && "B" in v ? v.B : undefined;
}

export function str(item: Item | undefined, name: string): string | undefined {
  const v = item?.[name];
  return v && "S" in v ? v.S : undefined;
}

export function num(item: Item | undefined, name: string): number | undefined {
  const v = item?.[name];
  return v && "N" in v && v.N !== undefined ? Number(v.N) : undefined;
}

export function reqStr(item: Item, name: string): string {
  const v = str(item, name);
  if (v === undefined) throw new Error(`item ${str(item, "pk")}/${str(item, "sk")} lacks string ${name}`);
  return v;
}

export function reqNum(item: Item, name: string): number {
  const v = num(item, name);
  if (v === undefined) throw new Error(`item ${str(item, "pk")}/${str(item, "sk")} lacks number ${name}`);
  return v;
}
