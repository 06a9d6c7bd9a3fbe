/** Longest Float32Array V8 makes. */
export const MAX_ARRAY_FLOATS = 2 ** 32;

export const gigabytes = (bytes: number): string => `${(bytes / 1e9).toFixed(1)} GB`;
