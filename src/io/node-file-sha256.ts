/** SHA-256 of a file, streamed (memory stays flat however large the weights are). */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

export async function fileSha256Hex(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
