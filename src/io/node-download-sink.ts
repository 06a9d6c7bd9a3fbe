/**
 * The node:fs implementation of {@link DownloadSink}: plain files, durable writes (fsync before
 * the downloader renames a verified file into place), node:crypto for fast SHA-256, and a lock file
 * per target directory (node-dir-lock.ts).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { DownloadSink, DownloadWriter } from "./hub-download.ts";
import { lockDirectory } from "./node-dir-lock.ts";

const READ_CHUNK_BYTES = 1024 * 1024;

export function createNodeDownloadSink(): DownloadSink {
  return {
    sizeOf: fileSize,
    openWriter: openFileWriter,
    readChunks,
    rename: async (from, to) => {
      await mkdir(dirname(to), { recursive: true });
      await rename(from, to);
    },
    remove: (path) => rm(path, { force: true }),
    sha256Of,
    lock: (dir) => lockDirectory(dir, "another download (gpt2-lens fetch)"),
  };
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

async function openFileWriter(path: string, mode: "append" | "truncate"): Promise<DownloadWriter> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, mode === "append" ? "a" : "w");
  let closed = false;
  return {
    async write(chunk) {
      let offset = 0;
      while (offset < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
        offset += bytesWritten;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await handle.datasync();
      } finally {
        await handle.close();
      }
    },
  };
}

async function* readChunks(path: string): AsyncIterable<Uint8Array> {
  for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK_BYTES })) {
    yield chunk as Buffer;
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK_BYTES })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}
