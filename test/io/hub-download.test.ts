import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  downloadHubModel,
  gitBlobSha1,
  hubResolveUrl,
  type HubDownloadOptions,
  type HubDownloadProgress,
} from "../../src/io/hub-download.ts";
import { createNodeDownloadSink } from "../../src/io/node-download-sink.ts";
import { Gpt2LensError } from "../../src/errors.ts";
import { gpt2ContentCheck } from "../../src/gpt2/node-download-check.ts";
import { LOCK_FILE_NAME } from "../../src/io/node-dir-lock.ts";
import { spawnSync } from "node:child_process";

const FIXTURES = new URL("../fixtures/tiny-gpt2/", import.meta.url);
const MODEL = new Uint8Array(await readFile(new URL("legacy-layout.safetensors", FIXTURES)));
const CONFIG = new Uint8Array(await readFile(new URL("config.json", FIXTURES)));
const MODEL_SHA256 = createHash("sha256").update(MODEL).digest("hex");
const CONFIG_GIT_SHA1 = createHash("sha1").update(`blob ${CONFIG.length}\0`).update(CONFIG).digest("hex");
const REPO = "openai-community/gpt2";
const FILES = ["config.json", "model.safetensors"];
const TEST_TIMEOUT = { timeout: 15_000 };

interface FakeHubBehaviour {
  /** First GET of the model: send headers for the whole file, then only this many bytes, then drop. */
  dropFirstTransferAfter?: number;
  /** First GET of the model: send this many bytes, then go silent (keep the socket open). */
  stallFirstTransferAfter?: number;
  /** Serve the model with this byte inverted. */
  flipModelByteAt?: number;
  flipConfigByteAt?: number;
  /** Answer Range requests with the whole file and 200. */
  ignoreRange?: boolean;
  /** Leave out X-Linked-Size (the downloader then learns the size only from the transfer). */
  omitLinkedSize?: boolean;
  /** Send no hash headers (ETag, X-Linked-Etag), as some mirrors do. */
  noHashHeaders?: boolean;
  /** Answer every GET with 200 and this HTML page (and no hash headers), with this content type if given. */
  errorPage?: { contentType?: string };
}

interface SeenRequest {
  method: string;
  path: string;
  range: string | undefined;
  status?: number;
}

/** A local imitation of huggingface.co plus its LFS CDN, on 127.0.0.1 and a random port. */
class FakeHub {
  readonly seen: SeenRequest[] = [];
  private modelTransfers = 0;
  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
    private readonly behaviour: FakeHubBehaviour,
  ) {}

  static async start(behaviour: FakeHubBehaviour = {}): Promise<FakeHub> {
    let hub: FakeHub | undefined;
    const server = createServer((request, response) => hub!.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    hub = new FakeHub(server, `http://127.0.0.1:${port}`, behaviour);
    return hub;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  cdnRequests(): SeenRequest[] {
    return this.seen.filter((r) => r.path.startsWith("/cdn-lfs/") && r.method === "GET");
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const path = request.url ?? "/";
    const seen: SeenRequest = { method: request.method ?? "GET", path, range: request.headers.range };
    this.seen.push(seen);
    response.on("finish", () => (seen.status = response.statusCode));
    response.on("close", () => (seen.status ??= response.statusCode));
    const resolvePrefix = `/${REPO}/resolve/main/`;
    if (this.behaviour.errorPage !== undefined && path.startsWith(resolvePrefix)) {
      const page = new TextEncoder().encode(`<!DOCTYPE html><html><body>Mirror maintenance</body></html>`);
      const type = this.behaviour.errorPage.contentType;
      response.writeHead(200, { "content-length": String(page.length), ...(type === undefined ? {} : { "content-type": type }) });
      response.end(request.method === "HEAD" ? undefined : page);
      return;
    }
    if (path === `${resolvePrefix}model.safetensors`) {
      const headers: Record<string, string> = {
        location: `${this.endpoint}/cdn-lfs/${MODEL_SHA256}?signed=yes`,
        "x-linked-etag": `"${MODEL_SHA256}"`,
        etag: `"${MODEL_SHA256}"`,
        "x-repo-commit": "607a30d783dfa663caf39e06633721c8d4cfcd7e",
        "content-length": "0",
      };
      if (!this.behaviour.omitLinkedSize) headers["x-linked-size"] = String(MODEL.length);
      if (this.behaviour.noHashHeaders) {
        delete headers["x-linked-etag"];
        delete headers.etag;
      }
      response.writeHead(302, headers).end();
      return;
    }
    if (path === `/cdn-lfs/${MODEL_SHA256}?signed=yes`) {
      this.serveModel(request, response);
      return;
    }
    if (path === `${resolvePrefix}config.json`) {
      const body = withFlippedByte(CONFIG, this.behaviour.flipConfigByteAt);
      response.writeHead(200, { ...(this.behaviour.noHashHeaders ? {} : { etag: `"${CONFIG_GIT_SHA1}"` }), "content-length": String(body.length) });
      response.end(request.method === "HEAD" ? undefined : body);
      return;
    }
    response.writeHead(404, { "x-error-code": "EntryNotFound", "content-type": "application/json" });
    response.end(JSON.stringify({ error: "Entry not found" }));
  }

  private serveModel(request: IncomingMessage, response: ServerResponse): void {
    const body = withFlippedByte(MODEL, this.behaviour.flipModelByteAt);
    if (request.method === "HEAD") {
      response.writeHead(200, { "content-length": String(body.length), "accept-ranges": "bytes" }).end();
      return;
    }
    this.modelTransfers += 1;
    const firstTransfer = this.modelTransfers === 1;
    const rangeMatch = /^bytes=(\d+)-$/.exec(request.headers.range ?? "");
    if (rangeMatch && !this.behaviour.ignoreRange) {
      const start = Number(rangeMatch[1]);
      if (start >= body.length) {
        response.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
        return;
      }
      response.writeHead(206, {
        "content-range": `bytes ${start}-${body.length - 1}/${body.length}`,
        "content-length": String(body.length - start),
      });
      response.end(body.subarray(start));
      return;
    }
    response.writeHead(200, { "content-length": String(body.length), "accept-ranges": "bytes" });
    const cut = firstTransfer ? (this.behaviour.dropFirstTransferAfter ?? this.behaviour.stallFirstTransferAfter) : undefined;
    if (cut === undefined) {
      response.end(body);
      return;
    }
    // Hand the first `cut` bytes to the kernel, give the client time to read them, then drop or stall.
    response.write(body.subarray(0, cut), () => {
      if (this.behaviour.dropFirstTransferAfter !== undefined) setTimeout(() => response.socket?.destroy(), 150);
    });
  }
}

function withFlippedByte(bytes: Uint8Array, index: number | undefined): Uint8Array {
  if (index === undefined) return bytes;
  const copy = bytes.slice();
  copy[index] ^= 0xff;
  return copy;
}

let hub: FakeHub | undefined;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gpt2-lens-hub-"));
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await hub?.close();
  hub = undefined;
  await rm(dir, { recursive: true, force: true });
});

function download(extra: Partial<HubDownloadOptions> = {}) {
  return downloadHubModel({ repo: REPO, files: FILES, to: dir, endpoint: hub!.endpoint, stallTimeoutMs: 5_000, env: {}, ...extra });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Compares by digest: deep equality on megabytes of bytes is far too slow in vitest. */
async function expectFileContent(path: string, expected: Uint8Array): Promise<void> {
  const actual = await readFile(path);
  expect(actual.length).toBe(expected.length);
  expect(createHash("sha256").update(actual).digest("hex")).toBe(createHash("sha256").update(expected).digest("hex"));
}

async function expectFilesMatchFixtures(): Promise<void> {
  await expectFileContent(join(dir, "model.safetensors"), MODEL);
  await expectFileContent(join(dir, "config.json"), CONFIG);
  expect(await exists(join(dir, "model.safetensors.incomplete"))).toBe(false);
}

async function captureError(promise: Promise<unknown>): Promise<Gpt2LensError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Gpt2LensError);
  return error as Gpt2LensError;
}

describe("downloadHubModel", () => {
  it("downloads an LFS file via the CDN redirect and a plain git file, verifying both", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start();
    const progress: HubDownloadProgress[] = [];
    const results = await download({ onProgress: (p) => progress.push(p) });

    await expectFilesMatchFixtures();
    expect(results.map((r) => [r.file, r.outcome, r.verifiedBy, r.bytes])).toEqual([
      ["config.json", "downloaded", "git-blob-sha1", CONFIG.length],
      ["model.safetensors", "downloaded", "sha256", MODEL.length],
    ]);
    // Metadata came from a HEAD on the resolve URL; bytes from the CDN location it pointed to.
    expect(hub.seen.some((r) => r.method === "HEAD" && r.path.endsWith("/resolve/main/model.safetensors"))).toBe(true);
    expect(hub.cdnRequests()).toHaveLength(1);
    const modelProgress = progress.filter((p) => p.file === "model.safetensors");
    expect(modelProgress.every((p) => p.total === MODEL.length)).toBe(true);
    expect(modelProgress.map((p) => p.received)).toEqual([...modelProgress.map((p) => p.received)].sort((a, b) => a - b));
    expect(modelProgress.at(-1)?.received).toBe(MODEL.length);
  });

  it("skips files already present with the right content, and replaces wrong ones", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start();
    await download();
    const requestsAfterFirstRun = hub.cdnRequests().length;
    const again = await download();
    expect(again.map((r) => r.outcome)).toEqual(["already_present", "already_present"]);
    expect(hub.cdnRequests()).toHaveLength(requestsAfterFirstRun);

    await writeFile(join(dir, "model.safetensors"), withFlippedByte(MODEL, 100));
    const repaired = await download({ files: ["model.safetensors"] });
    expect(repaired[0].outcome).toBe("downloaded");
    await expectFilesMatchFixtures();
  });

  it("keeps the bytes of a dropped transfer and resumes them with a Range request", TEST_TIMEOUT, async () => {
    const cut = 1_000_003;
    hub = await FakeHub.start({ dropFirstTransferAfter: cut });
    const error = await captureError(download());
    expect(error.code).toBe("download_interrupted");
    expect(error.message).toMatch(/model\.safetensors/);
    expect(error.message).toMatch(/rerun/);
    expect(await exists(join(dir, "model.safetensors"))).toBe(false);
    expect((await stat(join(dir, "model.safetensors.incomplete"))).size).toBe(cut);

    const results = await download();
    expect(results.find((r) => r.file === "model.safetensors")?.outcome).toBe("resumed");
    const resumeRequest = hub.cdnRequests().at(-1);
    expect(resumeRequest?.range).toBe(`bytes=${cut}-`);
    expect(resumeRequest?.status).toBe(206);
    await expectFilesMatchFixtures();
  });

  it("gives up on a stalled transfer and keeps what arrived", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start({ stallFirstTransferAfter: 50_000 });
    const started = Date.now();
    const error = await captureError(download({ files: ["model.safetensors"], stallTimeoutMs: 400 }));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.code).toBe("download_interrupted");
    expect(error.message).toMatch(/no data received/);
    expect((await stat(join(dir, "model.safetensors.incomplete"))).size).toBe(50_000);
  });

  it("rejects a corrupted download: no final file, partial deleted, hashes named", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start({ flipModelByteAt: 123_456 });
    const corruptSha256 = createHash("sha256").update(withFlippedByte(MODEL, 123_456)).digest("hex");
    const error = await captureError(download());
    expect(error.code).toBe("checksum_mismatch");
    expect(error.message).toContain("model.safetensors");
    expect(error.message).toContain(MODEL_SHA256);
    expect(error.message).toContain(corruptSha256);
    expect(await exists(join(dir, "model.safetensors"))).toBe(false);
    expect(await exists(join(dir, "model.safetensors.incomplete"))).toBe(false);
  });

  it("verifies with the runtime-neutral TypeScript SHA-256 when the sink has no fast hash", TEST_TIMEOUT, async () => {
    const { sha256Of: _nodeHash, ...portableSink } = createNodeDownloadSink();
    hub = await FakeHub.start();
    const results = await download({ sink: portableSink });
    expect(results.map((r) => r.verifiedBy)).toEqual(["git-blob-sha1", "sha256"]);
    await expectFilesMatchFixtures();
    await hub.close();

    hub = await FakeHub.start({ flipModelByteAt: 5 });
    await rm(join(dir, "model.safetensors"));
    const error = await captureError(download({ sink: portableSink }));
    expect(error.code).toBe("checksum_mismatch");
    expect(await exists(join(dir, "model.safetensors"))).toBe(false);
  });

  it("checks git-stored files against their git blob SHA-1", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start({ flipConfigByteAt: 10 });
    const error = await captureError(download({ files: ["config.json"] }));
    expect(error.code).toBe("checksum_mismatch");
    expect(error.message).toContain(CONFIG_GIT_SHA1);
    expect(await exists(join(dir, "config.json"))).toBe(false);
  });

  it("starts over cleanly when the server ignores Range and sends the whole file", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start({ ignoreRange: true });
    await writeFile(join(dir, "model.safetensors.incomplete"), MODEL.subarray(0, 1000));
    const results = await download();
    expect(results.find((r) => r.file === "model.safetensors")?.outcome).toBe("downloaded");
    const [request] = hub.cdnRequests();
    expect(request.range).toBe("bytes=1000-");
    expect(request.status).toBe(200);
    await expectFilesMatchFixtures();
  });

  it("verifies a partial file that is already complete without downloading it again", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start();
    await writeFile(join(dir, "model.safetensors.incomplete"), MODEL);
    const results = await download({ files: ["model.safetensors"] });
    expect(results[0].outcome).toBe("resumed");
    expect(hub.cdnRequests()).toHaveLength(0);
    await expectFileContent(join(dir, "model.safetensors"), MODEL);
  });

  it("treats 416 to a resume request as 'already complete' and verifies", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start({ omitLinkedSize: true });
    await writeFile(join(dir, "model.safetensors.incomplete"), MODEL);
    const results = await download({ files: ["model.safetensors"] });
    expect(results[0].outcome).toBe("resumed");
    expect(hub.cdnRequests().map((r) => r.status)).toEqual([416]);
    await expectFileContent(join(dir, "model.safetensors"), MODEL);
  });

  it("explains a 404 and names the URL", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start();
    const error = await captureError(download({ files: ["pytorch_model.bin"] }));
    expect(error.code).toBe("download_failed");
    expect(error.message).toContain("404");
    expect(error.message).toContain(`${hub.endpoint}/${REPO}/resolve/main/pytorch_model.bin`);
    expect(error.message).toMatch(/not found, or gated/);
    expect(await exists(join(dir, "pytorch_model.bin.incomplete"))).toBe(false);
  });

  it("says the hub is unreachable when nothing listens", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start();
    const endpoint = hub.endpoint;
    await hub.close();
    hub = undefined;
    const error = await captureError(downloadHubModel({ repo: REPO, files: FILES, to: dir, endpoint, env: {} }));
    expect(error.code).toBe("download_failed");
    expect(error.message).toMatch(/could not reach/);
  });

  it("uses HF_ENDPOINT from the env option or from process.env", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start();
    await downloadHubModel({ repo: REPO, files: ["config.json"], to: dir, env: { HF_ENDPOINT: `${hub.endpoint}/` } });
    await expectFileContent(join(dir, "config.json"), CONFIG);

    vi.stubEnv("HF_ENDPOINT", hub.endpoint);
    const before = hub.seen.length;
    const results = await downloadHubModel({ repo: REPO, files: ["config.json"], to: join(dir, "second") });
    expect(results[0].outcome).toBe("downloaded");
    expect(hub.seen.length).toBeGreaterThan(before);
  });

  it("refuses file paths that would escape the target directory", async () => {
    for (const file of ["../evil", "/etc/passwd", "a//b", "a\\b", ""]) {
      const error = await captureError(downloadHubModel({ repo: REPO, files: [file], to: dir, endpoint: "http://127.0.0.1:9", env: {} }));
      expect(error.code).toBe("bad_input");
    }
  });
});

describe("downloads the hub sends no hash for, error pages, partial files, locking", () => {
  it("without hash headers checks the content instead, and says so", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start({ noHashHeaders: true });
    const results = await download({ checkContent: gpt2ContentCheck(dir) });
    expect(results.map((r) => r.verifiedBy)).toEqual(["content", "content"]);
    expect(results[0].contentNote).toMatch(/^checked by content \(the hub sent no hash\): a GPT-2 config/);
    expect(results[1].contentNote).toMatch(/^checked by content .*every tensor config\.json implies/);
    await expectFilesMatchFixtures();
  });

  it("never installs unverified bytes: no hash and no content check is unverified_download", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start({ noHashHeaders: true });
    const error = await captureError(download());
    expect(error.code).toBe("unverified_download");
    expect(error.message).toMatch(/config\.json: the hub sent no hash/);
    expect(await exists(join(dir, "config.json"))).toBe(false);
    expect(await exists(join(dir, "config.json.incomplete"))).toBe(false);
  });

  it("refuses content that fails the check (content_check_failed) and keeps nothing", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start({ noHashHeaders: true, flipModelByteAt: 12 }); // inside the header's JSON
    const error = await captureError(download({ checkContent: gpt2ContentCheck(dir) }));
    expect(error.code).toBe("content_check_failed");
    expect(error.message).toMatch(/^model\.safetensors: the hub sent no hash, and the content is not a valid model\.safetensors/);
    expect(await exists(join(dir, "model.safetensors"))).toBe(false);
    expect(await exists(join(dir, "model.safetensors.incomplete"))).toBe(false);
  });

  it.each([
    ["by its content type", "text/html; charset=utf-8", /content type text\/html; charset=utf-8\)/],
    ["by its first bytes", undefined, /no content type; it starts with '<' \(an HTML or XML page\): "<!DOCTYPE html><"\)/],
  ])("an HTML page answered with 200 is an error_page naming the URL and content type (%s)", TEST_TIMEOUT, async (_, contentType, detail) => {
    hub = await FakeHub.start({ errorPage: { contentType } });
    const error = await captureError(download({ checkContent: gpt2ContentCheck(dir) }));
    expect(error.code).toBe("error_page");
    expect(error.message).toContain(`${hub.endpoint}/${REPO}/resolve/main/config.json`);
    expect(error.message).toMatch(detail);
    expect(await exists(join(dir, "config.json"))).toBe(false);
    expect(await exists(join(dir, "config.json.incomplete"))).toBe(false);
  });

  it("discards a partial file that cannot start the file (an HTML page) instead of resuming it", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start();
    await writeFile(join(dir, "model.safetensors.incomplete"), "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>");
    const results = await download();
    expect(results.find((r) => r.file === "model.safetensors")?.outcome).toBe("downloaded");
    const [request] = hub.cdnRequests();
    expect(request.range).toBeUndefined();
    await expectFilesMatchFixtures();
  });

  it("locks the directory: a second download into it at the same time is directory_in_use", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start();
    const [a, b] = await Promise.allSettled([download(), download()]);
    const rejected = [a, b].filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    expect(rejected).toHaveLength(1);
    expect((rejected[0].reason as Gpt2LensError).code).toBe("directory_in_use");
    expect((rejected[0].reason as Error).message).toContain(`${dir} is in use by another download`);
    await expectFilesMatchFixtures();
    expect(await exists(join(dir, LOCK_FILE_NAME))).toBe(false);
  });

  it("takes over a stale lock whose process is gone", TEST_TIMEOUT, async () => {
    hub = await FakeHub.start();
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    await writeFile(join(dir, LOCK_FILE_NAME), `${dead.stdout}\n`);
    await download();
    await expectFilesMatchFixtures();
    expect(await exists(join(dir, LOCK_FILE_NAME))).toBe(false);
  });
});

describe("helpers", () => {
  it("builds resolve URLs like the hub", () => {
    expect(hubResolveUrl("https://huggingface.co/", REPO, "main", "onnx/model file.onnx")).toBe(
      "https://huggingface.co/openai-community/gpt2/resolve/main/onnx/model%20file.onnx",
    );
    expect(hubResolveUrl("https://hf-mirror.com", REPO, "refs/pr/1", "config.json")).toBe(
      "https://hf-mirror.com/openai-community/gpt2/resolve/refs%2Fpr%2F1/config.json",
    );
  });

  it("computes git blob ids like git", async () => {
    // `printf 'hello\n' | git hash-object --stdin`
    expect(await gitBlobSha1(new TextEncoder().encode("hello\n"))).toBe("ce013625030ba8dba906f756967f9e9ca394464a");
  });
});
