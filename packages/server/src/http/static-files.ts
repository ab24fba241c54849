/**
 * Static files for the web app from `webRoot`: GET and HEAD only, no directory listings, no
 * dot-files, nothing outside the root (`..`, encoded slashes and symlinks that leave it are
 * refused). `/` and the join pages `/m/<id>` serve index.html so the app can route itself.
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

export function contentTypeFor(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";
}

/** Single-page-app routes answered with index.html. */
const APP_ROUTES = [/^\/$/, /^\/m\/[0-9]{6,32}\/?$/];

export class StaticFiles {
  readonly #root: string;
  #realRoot: Promise<string> | undefined;

  constructor(root: string) {
    this.#root = root;
  }

  /**
   * Serve `path` if it names a file under the root. Resolves true if a response was sent,
   * false if there is no such file (the caller answers 404).
   */
  async serve(path: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const relative = APP_ROUTES.some((r) => r.test(path)) ? ["index.html"] : safeSegments(path);
    if (relative === undefined) return false;
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
