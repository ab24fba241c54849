/**
 * Static files for the web app from `webRoot`: GET and HEAD only, no directory listings, no
 * dot-files, nothing outside the root (`..`, encoded slashes and symlinks that leave it are
 * refused). `/` and the join pages `/m/<id>` serve index.html so the app can route itself.
 *
 * Only the app's own assets: files whose type is a web asset (CONTENT_TYPES, less source maps
 * unless `sourceMaps`), never build output that happens to sit in the same folder — compiled
 * tests (`test/`, `*.test.js`), TypeScript's build info and output (`tsc/`, `*.tsbuildinfo`,
 * `*.d.ts`), sources (`*.ts`) or packages (`node_modules/`).
 */
import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, sep } from "node:path";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".wasm": "application/wasm",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
};

/** Folders and file names that are never the app's assets, wherever they appear. */
const NEVER_SERVED_DIRS = new Set(["test", "tests", "tsc", "node_modules", "src"]);
const NEVER_SERVED_FILES = /(\.test\.[cm]?js|\.spec\.[cm]?js|\.d\.ts|\.tsbuildinfo)$/i;

/** Whether a path below the web root is one of the app's assets (see the module comment). */
export function isServableAsset(segments: readonly string[], sourceMaps: boolean): boolean {
  if (segments.length === 0) return true; // the root: index.html
  if (segments.slice(0, -1).some((s) => NEVER_SERVED_DIRS.has(s.toLowerCase()))) return false;
  const name = segments[segments.length - 1]!;
  if (NEVER_SERVED_FILES.test(name)) return false;
  const ext = extname(name).toLowerCase();
  if (ext === ".map") return sourceMaps;
  return ext !== ".json" && CONTENT_TYPES[ext] !== undefined;
}

export function contentTypeFor(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";
}

/** Single-page-app routes answered with index.html. */
const APP_ROUTES = [/^\/$/, /^\/m\/[0-9]{6,32}\/?$/];

export class StaticFiles {
  readonly #root: string;
  readonly #sourceMaps: boolean;
  #realRoot: Promise<string> | undefined;

  /** `sourceMaps`: also serve `*.map` files (off by default: they show the app's source). */
  constructor(root: string, options: { sourceMaps?: boolean } = {}) {
    this.#root = root;
    this.#sourceMaps = options.sourceMaps ?? false;
  }

  /**
   * Serve `path` if it names a file under the root. Resolves true if a response was sent,
   * false if there is no such file (the caller answers 404).
   */
  async serve(path: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const relative = APP_ROUTES.some((r) => r.test(path)) ? ["index.html"] : safeSegments(path);
    if (relative === undefined || !isServableAsset(relative, this.#sourceMaps)) return false;
    return this.#send(relative, req, res, 200);
  }

  /**
   * The app's page with status 404, for a browser that navigated to an address that is nothing
   * here (the app then says so in words, instead of the API's JSON). Resolves false without it.
   */
  serveNotFoundPage(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (req.method !== "GET" && req.method !== "HEAD") return Promise.resolve(false);
    return this.#send(["index.html"], req, res, 404);
  }

  async #send(relative: string[], req: IncomingMessage, res: ServerResponse, status: number): Promise<boolean> {
    const file = await this.#resolve(relative);
    if (file === undefined) return false;

    const info = await stat(file);
    res.statusCode = status;
    res.setHeader("Content-Type", contentTypeFor(file));
    res.setHeader("Content-Length", info.size);
    res.setHeader("Cache-Control", "no-cache");
    res.setHeader("Last-Modified", info.mtime.toUTCString());
    if (req.method === "HEAD") {
      res.end();
      return true;
    }
    await new Promise<void>((resolve) => {
      const stream = createReadStream(file);
      stream.on("error", () => {
        res.destroy();
        resolve();
      });
      res.on("close", () => {
        stream.destroy();
        resolve();
      });
      stream.pipe(res);
    });
    return true;
  }

  /** The real path of an existing regular file inside the root, or undefined. */
  async #resolve(segments: readonly string[]): Promise<string | undefined> {
    this.#realRoot ??= realpath(this.#root);
    let root: string;
    try {
      root = await this.#realRoot;
    } catch {
      this.#realRoot = undefined; // the directory may appear later
      return undefined;
    }
    let candidate = join(root, ...segments);
    try {
      if ((await stat(candidate)).isDirectory()) candidate = join(candidate, "index.html");
      const real = await realpath(candidate);
      if (!real.startsWith(root + sep)) return undefined; // a symlink out of the root
      return (await stat(real)).isFile() ? real : undefined;
    } catch {
      return undefined;
    }
  }
}

/** Decoded path segments, or undefined if any is empty-after-decoding, hidden, or tries to escape. */
function safeSegments(path: string): string[] | undefined {
  const out: string[] = [];
  const parts = path.split("/").slice(1);
  for (let i = 0; i < parts.length; i++) {
    const raw = parts[i]!;
    if (raw === "" && i === parts.length - 1) break; // trailing slash: the directory itself
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (seg === "" || seg.startsWith(".") || /[/\\\0]/.test(seg)) return undefined;
    out.push(seg);
  }
  return out;
}
