/**
 * Base64 for embedding the kernels' WebAssembly binary in a module.
 *
 * @module
 */

/**
 * Encodes bytes as base64.
 *
 * @param bytes The data.
 * @returns Base64 text.
 * @example
 * ```ts
 * import { decodeBase64, encodeBase64 } from "./base64.ts";
 * if (decodeBase64(encodeBase64(new Uint8Array([1, 2, 250])))[2] !== 250) throw new Error();
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * Decodes base64 to bytes.
 *
 * @param text Base64 text.
 * @returns The data.
 */
export function decodeBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
