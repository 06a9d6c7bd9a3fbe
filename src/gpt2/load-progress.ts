import { InputError } from "../errors.ts";

export type ProgressCallback = (bytesDone: number, bytesTotal: number) => void;

/**
 * A loader's onProgress, checked up front, that remembers what it threw: the loader then rethrows
 * exactly that error instead of its own wrapping of whatever the throw interrupted.
 */
export interface ProgressReporter {
  /** Undefined when there is no callback. */
  readonly report: ProgressCallback | undefined;
  /** What the callback threw, if it did. */
  readonly thrown: { readonly error: unknown } | null;
}

export function progressReporter(options: unknown, where: string): ProgressReporter {
  if (options === undefined) return { report: undefined, thrown: null };
  if (typeof options !== "object" || options === null) {
    throw new InputError(`${where}: options must be an object, got ${options === null ? "null" : typeof options}`, "bad_option");
  }
  const { onProgress } = options as { onProgress?: unknown };
  if (onProgress === undefined) return { report: undefined, thrown: null };
  if (typeof onProgress !== "function") {
    throw new InputError(`${where}: onProgress must be a function, got ${onProgress === null ? "null" : typeof onProgress}`, "bad_option");
  }
  const reporter: { report: ProgressCallback; thrown: { error: unknown } | null } = {
    report: (done, total) => {
      try {
        onProgress(done, total);
      } catch (error) {
        reporter.thrown ??= { error };
        throw error;
      }
    },
    thrown: null,
  };
  return reporter;
}
