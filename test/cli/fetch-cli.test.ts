/**
 * `gpt2-lens fetch` as shipped (dist/cli/main.js in a child process) against a local imitation of
 * the HuggingFace hub on 127.0.0.1 (HF_ENDPOINT): config.json as a git-stored file (ETag = git blob
 * SHA-1), model.safetensors as an LFS file (X-Linked-Etag = SHA-256, X-Linked-Size, 302 to a CDN
 * path). The CLI runs asynchronously: the server lives in this process and must keep answering.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, CLI, ROOT, runCli, runCliSync } from "../helpers/cli.ts";
import { parseSafetensors } from "../../src/io/safetensors.ts";
import { TINY_DIR } from "../helpers/fixtures.ts";

const REPO = "openai-community/gpt2";
const MODEL = new Uint8Array(readFileSync(join(TINY_DIR, "model.safetensors")));
const CONFIG = new Uint8Array(readFileSync(join(TINY_DIR, "config.json")));
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const MODEL_SHA256 = sha256(MODEL);
const CONFIG_GIT_SHA1 = createHash("sha1").update(`blob ${CONFIG.length}\0`).update(CONFIG).digest("hex");
const CLI_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT = { timeout: 90_000 };

// ---- a local hub ----

interface SeenRequest {
  method: string;
  path: string;
}

interface HubOptions {
  flipModelByteAt?: number;
  /** A mirror that sends no hash headers and serves the files directly, or answers 200 with an HTML page. */
  mirror?: "no-hash" | "html";
}

class FakeHub {
  readonly seen: SeenRequest[] = [];
  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
    private readonly flipModelByteAt: number | undefined,
    private readonly mirror: HubOptions["mirror"],
  ) {}

  static async start(options: HubOptions = {}): Promise<FakeHub> {
    let hub: FakeHub | undefined;
    const server = createServer((request, response) => hub!.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    hub = new FakeHub(server, `http://127.0.0.1:${port}`, options.flipModelByteAt, options.mirror);
    return hub;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const path = request.url ?? "/";
    this.seen.push({ method: request.method ?? "GET", path });
    const resolvePrefix = `/${REPO}/resolve/main/`;
    const cdnPath = `/cdn-lfs/${MODEL_SHA256}?signed=yes`;
    if (this.mirror !== undefined && path.startsWith(resolvePrefix)) {
      const body =
        this.mirror === "html" ? new TextEncoder().encode("<html><body>Service unavailable</body></html>") : path.endsWith("config.json") ? CONFIG : MODEL;
      response.writeHead(200, { "content-length": String(body.length), ...(this.mirror === "html" ? { "content-type": "text/html" } : {}) });
      response.end(request.method === "HEAD" ? undefined : body);
      return;
    }
    if (path === `${resolvePrefix}model.safetensors`) {
      // LFS file: the hub answers with its hash and size and redirects to the CDN.
      response
        .writeHead(302, {
          location: `${this.endpoint}${cdnPath}`,
          "x-linked-etag": `"${MODEL_SHA256}"`,
          "x-linked-size": String(MODEL.length),
          etag: `"${MODEL_SHA256}"`,
          "x-repo-commit": "607a30d783dfa663caf39e06633721c8d4cfcd7e",
          "content-length": "0",
        })
        .end();
      return;
    }
    if (path === cdnPath) {
      let body = MODEL;
      if (this.flipModelByteAt !== undefined) {
        body = MODEL.slice();
        body[this.flipModelByteAt]! ^= 0xff;
      }
      response.writeHead(200, { "content-length": String(body.length), "accept-ranges": "bytes" });
      response.end(request.method === "HEAD" ? undefined : body);
      return;
    }
    if (path === `${resolvePrefix}config.json`) {
      response.writeHead(200, { etag: `"${CONFIG_GIT_SHA1}"`, "content-length": String(CONFIG.length) });
      response.end(request.method === "HEAD" ? undefined : CONFIG);
      return;
    }
    response.writeHead(404, { "x-error-code": "EntryNotFound", "content-type": "application/json" });
    response.end(JSON.stringify({ error: "Entry not found" }));
  }
}

// ---- running the CLI asynchronously ----

function cli(args: readonly string[], endpoint?: string): Promise<CliRun> {
  return runCli(args, { NO_PROXY: "127.0.0.1", no_proxy: "127.0.0.1", HF_TOKEN: undefined, HF_ENDPOINT: endpoint }, CLI_TIMEOUT_MS);
}

function errorLines(run: CliRun): string[] {
  return run.stderr.split("\n").filter((line) => line.startsWith("gpt2-lens:"));
}

let work: string;
let dirs = 0;
function freshDir(): string {
  const dir = join(work, `case-${dirs++}`);
  mkdirSync(dir);
  return dir;
}

const hubs: FakeHub[] = [];
async function startHub(options: HubOptions = {}): Promise<FakeHub> {
  const hub = await FakeHub.start(options);
  hubs.push(hub);
  return hub;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "gpt2-lens-fetch-cli-"));
}, 240_000);

afterAll(async () => {
  await Promise.all(hubs.map((hub) => hub.close()));
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("gpt2-lens fetch gpt2 from a local hub", () => {
  it("downloads and verifies config.json and model.safetensors; cache then runs on the fetched model", TEST_TIMEOUT, async () => {
    const hub = await startHub();
    const to = freshDir();
    const run = await cli(["fetch", "gpt2", "--to", to], hub.endpoint);
    expect(run.signal).toBeNull();
    expect(run.status, run.stderr).toBe(0);
    expect(errorLines(run)).toEqual([]);
    expect(run.stdout).toMatch(/^config\.json: downloaded \(\d+ bytes, verified by git-blob-sha1\)/m);
    expect(run.stdout).toMatch(/^model\.safetensors: downloaded \(\d+ bytes, verified by sha256\)/m);

    expect(readdirSync(to).sort()).toEqual(["config.json", "model.safetensors"]);
    expect(sha256(readFileSync(join(to, "model.safetensors")))).toBe(MODEL_SHA256);
    expect(Buffer.from(readFileSync(join(to, "config.json"))).equals(Buffer.from(CONFIG))).toBe(true);
    // The hub imitation was asked the way huggingface_hub asks: resolve URLs, then the CDN.
    expect(hub.seen.some((r) => r.path === `/${REPO}/resolve/main/config.json`)).toBe(true);
    expect(hub.seen.some((r) => r.path === `/${REPO}/resolve/main/model.safetensors`)).toBe(true);
    expect(hub.seen.some((r) => r.method === "GET" && r.path.startsWith("/cdn-lfs/"))).toBe(true);

    const out = join(to, "c.safetensors");
    const cache = await cli(["cache", "--model", to, "--prompt", "hello world", "--out", out]);
    expect(cache.status, cache.stderr).toBe(0);
    expect(cache.stderr).toBe("");
    expect(cache.stdout).toMatch(/^wrote \d+ tensors for 1 prompt\(s\) of 2 tokens to .*c\.safetensors\n$/);
    const file = parseSafetensors(new Uint8Array(readFileSync(out)));
    expect(Array.from(file.getInt32("tokens"))).toEqual([31373, 995]); // "hello", " world"
    expect(file.info("logits").shape).toEqual([1, 2, 50257]);

    // The fetched model computes what the fixture computes.
    const reference = join(to, "reference.safetensors");
    expect((await cli(["cache", "--model", TINY_DIR, "--prompt", "hello world", "--out", reference])).status).toBe(0);
    expect(readFileSync(out).equals(readFileSync(reference))).toBe(true);
  });

  it("finds verified files already present on a second run", TEST_TIMEOUT, async () => {
    const hub = await startHub();
    const to = freshDir();
    expect((await cli(["fetch", "gpt2", "--to", to], hub.endpoint)).status).toBe(0);
    const cdnGets = () => hub.seen.filter((r) => r.method === "GET" && r.path.startsWith("/cdn-lfs/")).length;
    const before = cdnGets();
    const again = await cli(["fetch", "gpt2", "--to", to], hub.endpoint);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^model\.safetensors: already present/m);
    expect(again.stdout).toMatch(/^config\.json: already present/m);
    expect(cdnGets()).toBe(before);
    expect(readdirSync(to).sort()).toEqual(["config.json", "model.safetensors"]);
  });

  it("refuses a corrupted download: one checksum error line, exit 1, no model.safetensors", TEST_TIMEOUT, async () => {
    const hub = await startHub({ flipModelByteAt: Math.floor(MODEL.length / 2) });
    const to = freshDir();
    const run = await cli(["fetch", "gpt2", "--to", to], hub.endpoint);
    expect(run.signal).toBeNull();
    expect(run.status).toBe(1);
    const errors = errorLines(run);
    expect(errors, run.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(/^gpt2-lens: error: model\.safetensors: SHA-256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}\./);
    expect(errors[0]).toContain(MODEL_SHA256);
    expect(run.stderr).not.toContain("    at ");
    expect(run.stderr).not.toMatch(/internal error/);
    const left = readdirSync(to);
    expect(left).not.toContain("model.safetensors");
    expect(left).not.toContain("model.safetensors.incomplete");
  });
});

describe("gpt2-lens fetch from a mirror without hashes, an error page, a busy directory", () => {
  it("checks the content when the mirror sends no hash, and says it was not checked by hash", TEST_TIMEOUT, async () => {
    const hub = await startHub({ mirror: "no-hash" });
    const to = freshDir();
    const run = await cli(["fetch", "gpt2", "--to", to], hub.endpoint);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^config\.json: downloaded \(\d+ bytes, not by hash but checked by content \(the hub sent no hash\): a GPT-2 config/m);
    expect(run.stdout).toMatch(/^model\.safetensors: downloaded \(\d+ bytes, not by hash but checked by content/m);
    expect(readdirSync(to).sort()).toEqual(["config.json", "model.safetensors"]);
  });

  it("refuses an HTML page served with 200: error_page naming the URL and content type, exit 1, nothing kept", TEST_TIMEOUT, async () => {
    const hub = await startHub({ mirror: "html" });
    const to = freshDir();
    const run = await cli(["fetch", "gpt2", "--to", to], hub.endpoint);
    expect(run.status).toBe(1);
    const errors = errorLines(run);
    expect(errors, run.stderr).toHaveLength(1);
    expect(errors[0]).toContain(`${hub.endpoint}/${REPO}/resolve/main/config.json answered with what looks like an error page`);
    expect(errors[0]).toContain("content type text/html");
    expect(readdirSync(to)).toEqual([]);
  });

  it("says the directory is in use while another fetch holds its lock (exit 1)", TEST_TIMEOUT, async () => {
    const hub = await startHub();
    const to = freshDir();
    writeFileSync(join(to, ".gpt2-lens.lock"), `${process.pid}\n`); // this test process: alive
    const run = await cli(["fetch", "gpt2", "--to", to], hub.endpoint);
    expect(run.status).toBe(1);
    expect(errorLines(run)).toEqual([expect.stringMatching(new RegExp(`^gpt2-lens: error: ${to.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is in use by another download \\(gpt2-lens fetch\\) in process ${process.pid}`))]);
    expect(hub.seen).toEqual([]);
  });
});

describe("gpt2-lens fetch usage errors (exit 2)", () => {
  const cases: [string, (to: string) => string[], RegExp][] = [
    ["an unknown model", (to) => ["fetch", "gpt3", "--to", to], /unknown model "gpt3" \(available: gpt2\)/],
    ["a missing --to", () => ["fetch", "gpt2"], /missing --to/],
    ["no model name", (to) => ["fetch", "--to", to], /name the model/],
  ];

  it.each(cases)("%s", TEST_TIMEOUT, async (_, args, culprit) => {
    const hub = await startHub();
    const dir = freshDir();
    const to = join(dir, "model");
    const run = await cli(args(to), hub.endpoint);
    expect(run.signal).toBeNull();
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    const lines = run.stderr.split("\n").filter((line) => line !== "");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^gpt2-lens: fetch: /);
    expect(lines[0]).toMatch(culprit);
    expect(hub.seen, "no request reached the hub").toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });
});
