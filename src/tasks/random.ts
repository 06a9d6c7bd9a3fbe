/**
 * A small seeded pseudo-random generator (mulberry32): the same seed gives the same sequence on
 * every platform, which `Math.random` cannot promise. Not for cryptography.
 */
import { InputError } from "../errors.ts";

export interface SeededRandom {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, count). */
  nextInt(count: number): number;
  /** A uniformly chosen element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
}

export function seededRandom(seed: number): SeededRandom {
  if (!Number.isSafeInteger(seed)) throw new InputError(`seed must be an integer, got ${seed}`, "bad_seed");
  // Only the low 32 bits of the seed matter.
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
  const nextInt = (count: number): number => {
    if (!Number.isInteger(count) || count <= 0) {
      throw new InputError(`count must be a positive integer, got ${count}`, "bad_count");
    }
    return Math.floor(next() * count);
  };
  const pick = <T>(items: readonly T[]): T => {
    if (items.length === 0) throw new InputError("cannot pick from an empty list", "empty_choice");
    return items[nextInt(items.length)];
  };
  return { next, nextInt, pick };
}
