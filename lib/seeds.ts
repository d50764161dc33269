// Seeds: the 64-bit seeds of the noise, the data order, dropout and weight initialisation.
//
// Seeds cross to the addon as decimal strings: a JS number holds integers exactly only up to
// 2^53, and the native side keys its Philox streams by full unsigned 64-bit values.
import { randomBytes } from 'crypto';
import { rangeError, typeError } from './validate';

/** A fresh random 64-bit seed, as a decimal string. */
export function randomSeed(): string {
  return randomBytes(8).readBigUInt64LE(0).toString();
}

/** Validates a seed (non-negative integer number below 2^53, or a bigint below 2^64). */
export function normalizeSeed(value: unknown, name: string): string {
  if (typeof value === 'bigint') {
    if (value < 0n || value >= 1n << 64n) throw rangeError(name, 'integer between 0 and 2^64-1', value);
    return value.toString();
  }
  if (typeof value !== 'number') throw typeError(name, 'non-negative integer or bigint', value);
  if (!Number.isSafeInteger(value) || value < 0) throw rangeError(name, 'non-negative safe integer or bigint', value);
  return value.toString();
}

/** A seed option: validated when given, a fresh random seed when omitted. */
export function seedOrRandom(value: unknown, name: string): string {
  return value === undefined ? randomSeed() : normalizeSeed(value, name);
}
