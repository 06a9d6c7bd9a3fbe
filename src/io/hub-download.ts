/**
 * Downloads model files from the Hugging Face hub the way `huggingface_hub` does, with the
 * guarantees a 500 MB download needs:
 *
 * - a HEAD on `<endpoint>/<repo>/resolve/<revision>/<file>` (redirects not followed) tells the
 *   expected content hash and size: LFS files carry `X-Linked-Etag` (their SHA-256) and
 *   `X-Linked-Size` and redirect to a CDN; small git-stored files carry an `ETag` that is their
 *   git blob SHA-1;
 * - bytes stream into `<to>/<file>.incomplete`; a later run resumes it with `Range: bytes=<have>-`;
 * - the finished file is hashed and only renamed to its final name if the hash matches; when the hub
 *   sends no hash, the caller's content check (`checkContent`) must accept it instead, and without
 *   one the file is refused (`unverified_download`): unverified bytes are never installed;
 * - an HTML or JSON error page answered with 200 (by Content-Type or by its first bytes) is an
 *   `error_page` error, and a partial file whose first bytes cannot start the file is discarded;
 * - the sink's `lock` (when it has one) keeps two downloads out of the same directory.
 *
 * Runtime-neutral: uses the global `fetch`, WebCrypto and a {@link DownloadSink} for file access
 * (the node:fs one is loaded on demand when none is given).
 */
import { Gpt2LensError } from "../errors.ts";
import { Sha256, bytesToHex } from "./sha256.ts";
import { SNIFF_BYTES, cannotStart, describeHead, errorPageStart, isErrorPageType } from "./hub-content-sniff.ts";

/** A file being written by the downloader. */
export interface DownloadWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Flushes (durably, where the platform allows) and closes the file. */
  close(): Promise<void>;
}

/** The file operations the downloader needs; paths are `/`-separated. */
export interface DownloadSink {
  /** Size in bytes of the file at `path`, or `undefined` when there is none. */
  sizeOf(path: string): Promise<number | undefined>;
  /** Opens `path` for writing, creating parent directories; "truncate" discards existing bytes. */
  openWriter(path: string, mode: "append" | "truncate"): Promise<DownloadWriter>;
  readChunks(path: string): AsyncIterable<Uint8Array>;
  /** Moves `from` to `to`, replacing any file already at `to`. */
  rename(from: string, to: string): Promise<void>;
  /** Deletes `path`; does nothing when it does not exist. */
  remove(path: string): Promise<void>;
  /** Optional fast path: SHA-256 of the file as lowercase hex (otherwise hashed in TypeScript). */
  sha256Of?(path: string): Promise<string>;
  /**
   * Optional: takes an exclusive lock on directory `dir` for one download run (throwing
   * `directory_in_use` when another holds it); the returned function releases it.
   */
  lock?(dir: string): Promise<() => Promise<void>>;
}

/**
 * Checks a finished file the hub gave no hash for (`path` is where it lies, not yet under its final
 * name) and throws when it is not what `file` should be; may return a note on what was checked.
 */
export type ContentCheck = (file: string, path: string, sink: DownloadSink) => Promise<string | void>;

export interface HubDownloadProgress {
  file: string;
  /** Bytes of the file on disk so far, including bytes kept from an earlier interrupted run. */
  received: number;
  /** Expected size in bytes, when the hub reported it. */
  total: number | undefined;
}

export type HubFileOutcome = "downloaded" | "resumed" | "already_present";

export interface HubFileResult {
  file: string;
  /** Where the verified file now lives. */
  path: string;
  outcome: HubFileOutcome;
  bytes: number;
  /**
   * What the content was checked against: the hub's LFS SHA-256 or git blob SHA-1, or — when the hub
   * sent no hash — the caller's content check (`checkContent`).
   */
  verifiedBy: "sha256" | "git-blob-sha1" | "content";
  /** For verifiedBy "content": what the check said it checked. */
  contentNote?: string;
}

export interface HubDownloadOptions {
  /** `owner/name`, e.g. "openai-community/gpt2". */
  repo: string;
  /** Paths inside the repo, e.g. ["config.json", "model.safetensors"]. */
  files: readonly string[];
  /** Local directory the files land in (subdirectories of file paths are kept). */
  to: string;
  /** Hub base URL; defaults to env HF_ENDPOINT, then https://huggingface.co. */
  endpoint?: string;
  /** Branch, tag or commit; default "main". */
  revision?: string;
  /** Access token for gated or private repos; defaults to env HF_TOKEN. Only sent to the hub itself. */
  token?: string;
  onProgress?: (progress: HubDownloadProgress) => void;
  /** Called as each file is finished (downloaded, resumed, or found already present). */
  onFileDone?: (result: HubFileResult) => void;
  sink?: DownloadSink;
  /**
   * Verifies a file the hub sends no hash for (e.g. a mirror without hash headers). Without it such
   * a file is refused with `unverified_download`.
   */
  checkContent?: ContentCheck;
  /** Environment variables to read HF_ENDPOINT / HF_TOKEN from; default `process.env` where it exists. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Abort when no bytes arrive for this long (ms); default 60 000. The partial file is kept. */
  stallTimeoutMs?: number;
  signal?: AbortSignal;
}

/** A Gpt2LensError from the downloader; `status` is set for HTTP errors. */
export class HubDownloadError extends Gpt2LensError {
  readonly file: string;
  readonly url: string | undefined;
  readonly status: number | undefined;
  constructor(
    code: string,
    message: string,
    details: { file: string; url?: string; status?: number; cause?: unknown },
  ) {
    super(code, message, { cause: details.cause });
    this.file = details.file;
    this.url = details.url;
    this.status = details.status;
  }
}

const DEFAULT_ENDPOINT = "https://huggingface.co";
const DEFAULT_STALL_TIMEOUT_MS = 60_000;
const MAX_METADATA_REDIRECTS = 5;
/** Git-stored (non-LFS) files are small; beyond this we do not read one whole to check its SHA-1. */
const MAX_GIT_BLOB_CHECK_BYTES = 64 * 1024 * 1024;
export const INCOMPLETE_SUFFIX = ".incomplete";

/** Downloads every requested file in order and returns what happened to each. */
export async function downloadHubModel(options: HubDownloadOptions): Promise<HubFileResult[]> {
  const context = await createContext(options);
  const unlock = await context.sink.lock?.(context.to);
  try {
    const results: HubFileResult[] = [];
    for (const file of options.files) {
      const result = await downloadHubFile(file, context);
      options.onFileDone?.(result);
      results.push(result);
    }
    return results;
  } finally {
    await unlock?.();
  }
}

/** `${endpoint}/${repo}/resolve/${revision}/${file}` with each part URL-encoded. */
export function hubResolveUrl(endpoint: string, repo: string, revision: string, file: string): string {
  const encodedFile = file.split("/").map(encodeURIComponent).join("/");
  return `${endpoint.replace(/\/+$/, "")}/${repo}/resolve/${encodeURIComponent(revision)}/${encodedFile}`;
}

interface DownloadContext {
  endpoint: string;
  repo: string;
  revision: string;
  token: string | undefined;
  to: string;
  sink: DownloadSink;
  stallTimeoutMs: number;
  signal: AbortSignal | undefined;
  onProgress: ((progress: HubDownloadProgress) => void) | undefined;
  checkContent: ContentCheck | undefined;
}

async function createContext(options: HubDownloadOptions): Promise<DownloadContext> {
  validateRepo(options.repo);
  for (const file of options.files) validateRepoFilePath(file);
  const env = options.env ?? readProcessEnv();
  const sink = options.sink ?? (await loadNodeSink());
  return {
    endpoint: (options.endpoint ?? nonEmpty(env.HF_ENDPOINT) ?? DEFAULT_ENDPOINT).replace(/\/+$/, ""),
    repo: options.repo,
    revision: options.revision ?? "main",
    token: options.token ?? nonEmpty(env.HF_TOKEN),
    to: options.to.replace(/[\\/]+$/, ""),
    sink,
    stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
    signal: options.signal,
    onProgress: options.onProgress,
    checkContent: options.checkContent,
  };
}

async function loadNodeSink(): Promise<DownloadSink> {
  const { createNodeDownloadSink } = await import("./node-download-sink.ts");
  return createNodeDownloadSink();
}

/** `process.env` on Node and Bun, guarded so Deno without --allow-env and browsers get `{}`. */
function readProcessEnv(): Readonly<Record<string, string | undefined>> {
  try {
    const processLike = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
    const env = processLike?.env;
    if (!env) return {};
    return { HF_ENDPOINT: env.HF_ENDPOINT, HF_TOKEN: env.HF_TOKEN };
  } catch {
    return {};
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function validateRepo(repo: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/.test(repo)) {
    throw new Gpt2LensError("bad_input", `Invalid hub repo id "${repo}": expected "owner/name", e.g. "openai-community/gpt2".`);
  }
}

/** Refuses paths that could escape the target directory. */
function validateRepoFilePath(file: string): void {
  const segments = file.split("/");
  const bad =
    file === "" ||
    file.includes("\\") ||
    file.includes("\0") ||
    /^[A-Za-z]:/.test(file) ||
    segments.some((segment) => segment === "" || segment === "." || segment === "..");
  if (bad) throw new Gpt2LensError("bad_input", `Invalid file path in repo: "${file}".`);
}

// ---------------------------------------------------------------------------------------------
// One file
// ---------------------------------------------------------------------------------------------

type ExpectedHash = { algorithm: "sha256" | "git-blob-sha1"; hex: string };

interface RemoteFileInfo {
  /** Where the bytes are fetched from: the CDN location for LFS files, else the resolve URL. */
  downloadUrl: string;
  size: number | undefined;
  expectedHash: ExpectedHash | undefined;
}

async function downloadHubFile(file: string, context: DownloadContext): Promise<HubFileResult> {
  const { sink } = context;
  const finalPath = `${context.to}/${file}`;
  const partialPath = finalPath + INCOMPLETE_SUFFIX;
  const resolveUrl = hubResolveUrl(context.endpoint, context.repo, context.revision, file);
  const remote = await fetchRemoteFileInfo(file, resolveUrl, context);
  const verifiedBy = remote.expectedHash?.algorithm ?? "content";

  const existingSize = await sink.sizeOf(finalPath);
  if (existingSize !== undefined && (await isAlreadyPresent(finalPath, existingSize, remote, sink))) {
    context.onProgress?.({ file, received: existingSize, total: existingSize });
    return { file, path: finalPath, outcome: "already_present", bytes: existingSize, verifiedBy };
  }

  let have = (await sink.sizeOf(partialPath)) ?? 0;
  // A partial file that cannot be the start of this file (say, an error page saved by an earlier
  // run) would only be resumed into garbage: start over.
  if (have > 0 && cannotStart(file, await readHead(partialPath, sink)) !== undefined) {
    await sink.remove(partialPath);
    have = 0;
  }
  if (remote.size !== undefined && have > remote.size) {
    await sink.remove(partialPath);
    have = 0;
  }
  let outcome: HubFileOutcome = have > 0 ? "resumed" : "downloaded";
  const alreadyComplete = remote.size !== undefined && have === remote.size;
  if (!alreadyComplete) {
    const transfer = await transferToPartialFile(file, partialPath, remote, have, context);
    if (transfer.restartedFromZero) outcome = "downloaded";
  }

  const bytes = await verifyPartialFile(file, partialPath, remote, sink);
  const contentNote = remote.expectedHash === undefined ? await verifyContent(file, partialPath, remote, context) : undefined;
  await sink.rename(partialPath, finalPath);
  return { file, path: finalPath, outcome, bytes, verifiedBy, ...(contentNote === undefined ? {} : { contentNote }) };
}

/** The first SNIFF_BYTES bytes of a file (fewer if it is shorter). */
async function readHead(path: string, sink: DownloadSink): Promise<Uint8Array> {
  const head = new Uint8Array(SNIFF_BYTES);
  let length = 0;
  for await (const chunk of sink.readChunks(path)) {
    const take = Math.min(chunk.length, SNIFF_BYTES - length);
    head.set(chunk.subarray(0, take), length);
    length += take;
    if (length === SNIFF_BYTES) break;
  }
  return head.subarray(0, length);
}

/** The caller's content check for a file the hub sent no hash for; deletes the file when it fails. */
async function verifyContent(file: string, partialPath: string, remote: RemoteFileInfo, context: DownloadContext): Promise<string> {
  const fail = async (code: string, reason: string, cause?: unknown): Promise<never> => {
    await context.sink.remove(partialPath);
    throw new HubDownloadError(code, `${file}: ${reason} (from ${remote.downloadUrl}). The download was deleted.`, {
      file,
      url: remote.downloadUrl,
      cause,
    });
  };
  if (context.checkContent === undefined) {
    return fail("unverified_download", "the hub sent no hash (no ETag / X-Linked-Etag) and no content check was given, so it cannot be verified");
  }
  let note: string | void;
  try {
    note = await context.checkContent(file, partialPath, context.sink);
  } catch (error) {
    return fail("content_check_failed", `the hub sent no hash, and the content is not a valid ${file}: ${describe(error)}`, error);
  }
  return note ?? "checked by content (the hub sent no hash)";
}

async function isAlreadyPresent(
  path: string,
  size: number,
  remote: RemoteFileInfo,
  sink: DownloadSink,
): Promise<boolean> {
  if (remote.expectedHash === undefined) return false; // cannot tell; cheap to fetch again
  if (remote.size !== undefined && size !== remote.size) return false;
  const actual = await hashFile(path, size, remote.expectedHash.algorithm, sink);
  return actual === remote.expectedHash.hex;
}

// ---------------------------------------------------------------------------------------------
// Metadata (HEAD on the resolve URL)
// ---------------------------------------------------------------------------------------------

async function fetchRemoteFileInfo(
  file: string,
  resolveUrl: string,
  context: DownloadContext,
): Promise<RemoteFileInfo> {
  let url = resolveUrl;
  for (let hop = 0; hop <= MAX_METADATA_REDIRECTS; hop++) {
    const response = await fetchWithStallTimeout(file, url, "HEAD", requestHeaders(url, context), "manual", context);
    if (response.type === "opaqueredirect") {
      // Browsers hide redirect responses; fall back to whatever the followed response tells.
      const followed = await fetchWithStallTimeout(file, url, "HEAD", requestHeaders(url, context), "follow", context);
      if (!followed.ok) throw httpError(file, url, followed.status);
      return remoteInfoFromHeaders(followed.headers, url, false);
    }
    if (isRedirect(response.status)) {
      const location = response.headers.get("location");
      if (location === null) throw httpError(file, url, response.status);
      const target = new URL(location, url).toString();
      // Relative redirects without hash headers are hub-internal (renamed repos): follow them for
      // metadata. Anything else (the CDN) is where the bytes live.
      const isHubInternal = !/^[a-z][a-z0-9+.-]*:|^\/\//i.test(location);
      if (isHubInternal && !response.headers.has("x-linked-etag")) {
        url = target;
        continue;
      }
      return remoteInfoFromHeaders(response.headers, target, true);
    }
    if (!response.ok) throw httpError(file, url, response.status);
    return remoteInfoFromHeaders(response.headers, url, false);
  }
  throw new HubDownloadError("download_failed", `Too many redirects resolving ${file} from ${resolveUrl}.`, {
    file,
    url: resolveUrl,
  });
}

function remoteInfoFromHeaders(headers: Headers, downloadUrl: string, isRedirectResponse: boolean): RemoteFileInfo {
  const linkedEtag = headers.get("x-linked-etag");
  const etag = normalizeEtag(linkedEtag ?? headers.get("etag"));
  const sizeHeader = headers.get("x-linked-size") ?? (isRedirectResponse ? null : headers.get("content-length"));
  const size = sizeHeader !== null && /^\d+$/.test(sizeHeader.trim()) ? Number(sizeHeader.trim()) : undefined;
  let expectedHash: ExpectedHash | undefined;
  if (etag !== undefined && /^[0-9a-f]{64}$/.test(etag)) expectedHash = { algorithm: "sha256", hex: etag };
  else if (etag !== undefined && linkedEtag === null && /^[0-9a-f]{40}$/.test(etag)) {
    expectedHash = { algorithm: "git-blob-sha1", hex: etag };
  }
  return { downloadUrl, size, expectedHash };
}

/** `W/"abc"` → `abc`, lowercased. */
function normalizeEtag(etag: string | null): string | undefined {
  if (etag === null) return undefined;
  const bare = etag.trim().replace(/^W\//, "").replace(/^"|"$/g, "").toLowerCase();
  return bare === "" ? undefined : bare;
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function requestHeaders(url: string, context: DownloadContext): Record<string, string> {
  // identity: sizes and byte ranges must refer to the stored bytes, not a compressed stream.
  const headers: Record<string, string> = { "accept-encoding": "identity" };
  if (context.token !== undefined && new URL(url).origin === new URL(context.endpoint).origin) {
    headers.authorization = `Bearer ${context.token}`;
  }
  return headers;
}

// ---------------------------------------------------------------------------------------------
// Transfer (GET, optionally resumed with Range)
// ---------------------------------------------------------------------------------------------

async function transferToPartialFile(
  file: string,
  partialPath: string,
  remote: RemoteFileInfo,
  have: number,
  context: DownloadContext,
): Promise<{ restartedFromZero: boolean }> {
  const url = remote.downloadUrl;
  const headers = requestHeaders(url, context);
  if (have > 0) headers.range = `bytes=${have}-`;
  const stall = new StallGuard(context.stallTimeoutMs, context.signal);
  try {
    let response = await fetchOrFail(file, url, { method: "GET", headers, redirect: "follow", signal: stall.signal }, stall);
    let mode: "append" | "truncate" = have > 0 ? "append" : "truncate";
    let start = have;
    if (have > 0) {
      if (response.status === 416) {
        await response.body?.cancel();
        return { restartedFromZero: false }; // the server says we have it all; verification decides
      }
      const resumedAt = response.status === 206 ? contentRangeStart(response.headers) : undefined;
      if (response.status === 200) {
        mode = "truncate"; // the server ignored Range and sent the whole file
        start = 0;
      } else if (response.status === 206 && resumedAt !== have) {
        await response.body?.cancel();
        delete headers.range;
        response = await fetchOrFail(file, url, { method: "GET", headers, redirect: "follow", signal: stall.signal }, stall);
        mode = "truncate";
        start = 0;
      }
    }
    if (!(response.status === 200 || (response.status === 206 && mode === "append" && start > 0))) {
      await response.body?.cancel();
      throw httpError(file, url, response.status, start > 0);
    }
    await streamBodyToFile(file, url, response, partialPath, mode, start, remote.size, stall, context);
    return { restartedFromZero: start === 0 && have > 0 };
  } finally {
    stall.dispose();
  }
}

async function streamBodyToFile(
  file: string,
  url: string,
  response: Response,
  partialPath: string,
  mode: "append" | "truncate",
  start: number,
  total: number | undefined,
  stall: StallGuard,
  context: DownloadContext,
): Promise<void> {
  const contentType = response.headers.get("content-type");
  if (isErrorPageType(file, contentType)) {
    await response.body?.cancel().catch(() => undefined);
    throw errorPageError(file, url, contentType, undefined);
  }
  const writer = await context.sink.openWriter(partialPath, mode);
  let received = start;
  let interruption: unknown;
  // The first bytes of a fresh transfer are held back until they show it can be the file.
  let head: Uint8Array | undefined = start === 0 ? new Uint8Array(0) : undefined;
  let rejected: HubDownloadError | undefined;
  try {
    context.onProgress?.({ file, received, total });
    const reader = response.body?.getReader();
    if (reader === undefined) interruption = new Error("response has no body");
    while (reader !== undefined) {
      let chunk: { done: boolean; value?: Uint8Array };
      try {
        chunk = await reader.read();
      } catch (error) {
        interruption = error;
        break;
      }
      if (chunk.done || chunk.value === undefined) break;
      stall.touch();
      let bytes = chunk.value;
      if (head !== undefined) {
        head = concat(head, bytes);
        if (head.length < SNIFF_BYTES) continue;
        rejected = sniffed(file, url, contentType, head);
        if (rejected !== undefined) {
          await reader.cancel().catch(() => undefined);
          break;
        }
        bytes = head;
        head = undefined;
      }
      try {
        await writer.write(bytes);
      } catch (writeError) {
        await reader.cancel().catch(() => undefined);
        throw writeError;
      }
      received += bytes.length;
      context.onProgress?.({ file, received, total });
    }
    if (head !== undefined && rejected === undefined) {
      // A body shorter than SNIFF_BYTES (or cut off before them).
      rejected = sniffed(file, url, contentType, head);
      if (rejected === undefined && head.length > 0) {
        await writer.write(head);
        received += head.length;
        context.onProgress?.({ file, received, total });
      }
    }
  } finally {
    await writer.close();
  }
  if (rejected !== undefined) {
    await context.sink.remove(partialPath);
    throw rejected;
  }
  if (interruption !== undefined) throw interruptedError(file, url, received, total, stall.reason(interruption));
  if (total !== undefined && received < total) {
    throw interruptedError(file, url, received, total, new Error("connection closed before the end of the file"));
  }
}

async function fetchOrFail(file: string, url: string, init: RequestInit, stall: StallGuard): Promise<Response> {
  try {
    const response = await fetch(url, init);
    stall.touch();
    return response;
  } catch (error) {
    throw unreachableError(file, url, stall.reason(error));
  }
}

async function fetchWithStallTimeout(
  file: string,
  url: string,
  method: "HEAD",
  headers: Record<string, string>,
  redirect: "manual" | "follow",
  context: DownloadContext,
): Promise<Response> {
  const stall = new StallGuard(context.stallTimeoutMs, context.signal);
  try {
    return await fetchOrFail(file, url, { method, headers, redirect, signal: stall.signal }, stall);
  } finally {
    stall.dispose();
  }
}

/** Aborts a request when nothing arrives for `timeoutMs`, or when the caller's signal aborts. */
class StallGuard {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stalled = false;
  private readonly onCallerAbort = (): void => this.controller.abort(this.callerSignal?.reason);

  constructor(
    private readonly timeoutMs: number,
    private readonly callerSignal: AbortSignal | undefined,
  ) {
    if (callerSignal?.aborted) this.controller.abort(callerSignal.reason);
    callerSignal?.addEventListener("abort", this.onCallerAbort, { once: true });
    this.touch();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  touch(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.stalled = true;
      this.controller.abort(new Error(`no data received for ${this.timeoutMs / 1000} s`));
    }, this.timeoutMs);
  }

  /** The most telling cause for a failure: the stall or caller abort if one happened. */
  reason(error: unknown): unknown {
    if (this.stalled) return this.controller.signal.reason;
    if (this.callerSignal?.aborted) return new Error("cancelled", { cause: this.callerSignal.reason });
    return error;
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.callerSignal?.removeEventListener("abort", this.onCallerAbort);
  }
}

/** Start offset of a `Content-Range: bytes <start>-<end>/<size>` header. */
function contentRangeStart(headers: Headers): number | undefined {
  const match = /^bytes\s+(\d+)-\d+\/(\d+|\*)$/i.exec(headers.get("content-range")?.trim() ?? "");
  return match ? Number(match[1]) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/** Checks size and hash of the finished partial file; deletes it and throws when they are wrong. */
async function verifyPartialFile(
  file: string,
  partialPath: string,
  remote: RemoteFileInfo,
  sink: DownloadSink,
): Promise<number> {
  const size = (await sink.sizeOf(partialPath)) ?? 0;
  if (remote.size !== undefined && size !== remote.size) {
    await sink.remove(partialPath);
    throw new HubDownloadError(
      "checksum_mismatch",
      `${file}: downloaded ${size} bytes but the hub says the file has ${remote.size}. ` +
        `The partial file was deleted; rerun to download it again.`,
      { file, url: remote.downloadUrl },
    );
  }
  const expected = remote.expectedHash;
  if (expected === undefined) return size;
  const actual = await hashFile(partialPath, size, expected.algorithm, sink);
  if (actual === undefined || actual === expected.hex) return size;
  await sink.remove(partialPath);
  const name = expected.algorithm === "sha256" ? "SHA-256" : "git blob SHA-1";
  throw new HubDownloadError(
    "checksum_mismatch",
    `${file}: ${name} mismatch: expected ${expected.hex}, got ${actual}. ` +
      `The corrupted download was deleted; rerun to download it again.`,
    { file, url: remote.downloadUrl },
  );
}

/** Lowercase hex digest, or undefined when the file is too large for a git-blob check. */
async function hashFile(
  path: string,
  size: number,
  algorithm: ExpectedHash["algorithm"],
  sink: DownloadSink,
): Promise<string | undefined> {
  if (algorithm === "sha256") {
    if (sink.sha256Of) return sink.sha256Of(path);
    const hash = new Sha256();
    for await (const chunk of sink.readChunks(path)) hash.update(chunk);
    return hash.digestHex();
  }
  if (size > MAX_GIT_BLOB_CHECK_BYTES) return undefined;
  return gitBlobSha1(await readWholeFile(path, size, sink));
}

/** Git's object id for file content: SHA-1 of `blob <length>\0<content>`. */
export async function gitBlobSha1(content: Uint8Array): Promise<string> {
  const header = new TextEncoder().encode(`blob ${content.length}\0`);
  const object = new Uint8Array(header.length + content.length);
  object.set(header, 0);
  object.set(content, header.length);
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-1", object)));
}

async function readWholeFile(path: string, size: number, sink: DownloadSink): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of sink.readChunks(path)) {
    chunks.push(chunk);
    length += chunk.length;
  }
  const whole = new Uint8Array(Math.max(length, size));
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.length;
  }
  return whole.subarray(0, length);
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

function httpError(file: string, url: string, status: number, partialKept = false): HubDownloadError {
  let explanation: string;
  if (status === 401 || status === 403 || status === 404) {
    explanation =
      "repo or file not found, or gated (gated and private repos need an access token, e.g. env HF_TOKEN)";
  } else if (status === 429) {
    explanation = "rate limited by the hub; wait a little and rerun";
  } else if (status >= 500) {
    explanation = "the hub or its CDN is having trouble; rerun later";
  } else {
    explanation = "unexpected response";
  }
  const kept = partialKept ? " The partial download was kept; a rerun resumes it." : "";
  return new HubDownloadError("download_failed", `Downloading ${file} failed: HTTP ${status} from ${url}: ${explanation}.${kept}`, {
    file,
    url,
    status,
  });
}

function sniffed(file: string, url: string, contentType: string | null, head: Uint8Array): HubDownloadError | undefined {
  const reason = errorPageStart(file, head);
  return reason === undefined ? undefined : errorPageError(file, url, contentType, `${reason}: ${describeHead(head)}`);
}

function errorPageError(file: string, url: string, contentType: string | null, detail: string | undefined): HubDownloadError {
  const type = contentType === null ? "no content type" : `content type ${contentType}`;
  const why = detail === undefined ? "" : `; ${detail}`;
  return new HubDownloadError(
    "error_page",
    `Downloading ${file} failed: ${url} answered with what looks like an error page, not the file (${type}${why}). ` +
      `Nothing was kept; check HF_ENDPOINT or the mirror.`,
    { file, url },
  );
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function unreachableError(file: string, url: string, cause: unknown): HubDownloadError {
  return new HubDownloadError(
    "download_failed",
    `Downloading ${file} failed: could not reach ${url} (${describe(cause)}). ` +
      `Check the network, or point HF_ENDPOINT at a reachable mirror.`,
    { file, url, cause },
  );
}

function interruptedError(
  file: string,
  url: string,
  received: number,
  total: number | undefined,
  cause: unknown,
): HubDownloadError {
  const of = total === undefined ? "" : ` of ${total}`;
  return new HubDownloadError(
    "download_interrupted",
    `Downloading ${file} was interrupted after ${received}${of} bytes (${describe(cause)}). ` +
      `The bytes received are kept in ${file}${INCOMPLETE_SUFFIX}; rerun the same command to resume.`,
    { file, url, cause },
  );
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}
