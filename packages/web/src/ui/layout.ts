/**
 * Where each tile of the meeting goes: pure geometry, so it can be tested without a browser.
 *
 * The tile area (between the header and the control bar, beside the People panel when it is
 * open) is measured by the view; this module returns one rectangle per visible tile, inside that
 * area, never overlapping. Two arrangements:
 *
 * - GALLERY: equal tiles in the grid (columns × rows) that makes them largest for their aspect
 *   ratio. Past what fits at a readable size, the rest go to further pages.
 * - STAGE: one main tile (a shared screen, a pinned or spotlighted person, or whoever speaks)
 *   and a filmstrip of the others — a column on the right in landscape, a row below in portrait —
 *   paginated the same way.
 */
export interface Size {
  width: number;
  height: number;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface LayoutOptions {
  /** Space between tiles, in CSS pixels. */
  gap: number;
  /** Smallest tile width worth showing (smaller ones go to the next page). */
  minTileWidth: number;
}

export interface GalleryLayout {
  kind: "gallery";
  /** Rectangles of the tiles on the current page, in order. */
  tiles: Rect[];
  perPage: number;
  pages: number;
  page: number;
}

export interface StageLayout {
  kind: "stage";
  main: Rect;
  /** Rectangles of the filmstrip tiles on the current page, in order. */
  strip: Rect[];
  perPage: number;
  pages: number;
  page: number;
}

/** Tiles are 16:9 in landscape areas and 4:3 in portrait ones (phones), where 16:9 wastes height. */
export function tileAspect(area: Size): number {
  return area.width >= area.height ? 16 / 9 : 4 / 3;
}

/** The grid that makes `count` tiles of `aspect` largest inside `area`. */
export function fitGrid(area: Size, count: number, aspect: number, gap: number): { cols: number; rows: number; width: number; height: number } {
  let best = { cols: 1, rows: Math.max(1, count), width: 0, height: 0 };
  for (let cols = 1; cols <= Math.max(1, count); cols++) {
    const rows = Math.ceil(count / cols);
    const maxW = (area.width - gap * (cols - 1)) / cols;
    const maxH = (area.height - gap * (rows - 1)) / rows;
    if (maxW <= 0 || maxH <= 0) continue;
    const width = Math.min(maxW, maxH * aspect);
    if (width > best.width) best = { cols, rows, width, height: width / aspect };
  }
  return { ...best, width: Math.floor(best.width), height: Math.floor(best.height) };
}

/** How many tiles fit in `area` at `minWidth` or more (at least 1). */
export function capacity(area: Size, aspect: number, gap: number, minWidth: number): number {
  const width = Math.max(1, Math.min(minWidth, area.width));
  const height = width / aspect;
  const cols = Math.max(1, Math.floor((area.width + gap) / (width + gap)));
  const rows = Math.max(1, Math.floor((area.height + gap) / (height + gap)));
  return cols * rows;
}

/** Centered grid rectangles for `count` tiles (the last row centered too). */
function placeGrid(area: Rect, count: number, aspect: number, gap: number): Rect[] {
  if (count === 0) return [];
  const g = fitGrid(area, count, aspect, gap);
  const rects: Rect[] = [];
  const totalH = g.rows * g.height + (g.rows - 1) * gap;
  const top = area.y + Math.max(0, Math.floor((area.height - totalH) / 2));
  for (let i = 0; i < count; i++) {
    const row = Math.floor(i / g.cols);
    const inRow = row === g.rows - 1 ? count - row * g.cols : g.cols;
    const rowW = inRow * g.width + (inRow - 1) * gap;
    const left = area.x + Math.max(0, Math.floor((area.width - rowW) / 2));
    const col = i - row * g.cols;
    rects.push({ x: left + col * (g.width + gap), y: top + row * (g.height + gap), width: g.width, height: g.height });
  }
  return rects;
}

function pageOf(count: number, perPage: number, page: number): { pages: number; page: number; first: number; onPage: number } {
  const pages = Math.max(1, Math.ceil(count / perPage));
  const p = Math.min(Math.max(0, page), pages - 1);
  const first = p * perPage;
  return { pages, page: p, first, onPage: Math.min(perPage, count - first) };
}

/**
 * Equal tiles for `count` participants. `area` excludes the pager's row; when everything fits on
 * one page the caller may give the whole area back (see `pagerNeeded`).
 */
export function galleryLayout(area: Size, count: number, page: number, opts: LayoutOptions): GalleryLayout {
  const aspect = tileAspect(area);
  const perPage = Math.max(1, capacity(area, aspect, opts.gap, opts.minTileWidth));
  const p = pageOf(count, perPage, page);
  const tiles = placeGrid({ x: 0, y: 0, ...area }, p.onPage, aspect, opts.gap);
  return { kind: "gallery", tiles, perPage, pages: p.pages, page: p.page };
}

/** The main tile and a filmstrip of `stripCount` others. */
export function stageLayout(area: Size, stripCount: number, page: number, opts: LayoutOptions): StageLayout {
  const gap = opts.gap;
  const landscape = area.width >= area.height * 1.15;
  if (stripCount === 0) {
    return { kind: "stage", main: { x: 0, y: 0, ...area }, strip: [], perPage: 0, pages: 1, page: 0 };
  }
  if (landscape) {
    // A column on the right, a fifth of the width (at least a readable tile), 16:9 tiles.
    const fullW = Math.floor(Math.min(Math.max(area.width * 0.2, Math.min(opts.minTileWidth, area.width * 0.35)), 320));
    // Before paging, the tiles shrink (to 60% of the column, not below 120 px) so that more fit.
    const { size: stripW, perPage } = shrinkToFit(fullW, Math.min(fullW, Math.max(120, Math.floor(fullW * 0.6))), area.height, gap, stripCount, (w) => Math.floor(w / (16 / 9)));
    const tileH = Math.floor(stripW / (16 / 9));
    const p = pageOf(stripCount, perPage, page);
    const stripX = area.width - stripW;
    const totalH = p.onPage * tileH + (p.onPage - 1) * gap;
    const top = Math.max(0, Math.floor((area.height - totalH) / 2));
    const strip = Array.from({ length: p.onPage }, (_, i) => ({ x: stripX, y: top + i * (tileH + gap), width: stripW, height: tileH }));
    return { kind: "stage", main: { x: 0, y: 0, width: stripX - gap, height: area.height }, strip, perPage, pages: p.pages, page: p.page };
  }
  // A row below, about a fifth of the height, 4:3 tiles.
  const fullH = Math.floor(Math.min(Math.max(area.height * 0.2, 72), 180));
  const { size: stripH, perPage } = shrinkToFit(fullH, Math.min(fullH, Math.max(72, Math.floor(fullH * 0.6))), area.width, gap, stripCount, (h) => Math.floor(h * (4 / 3)));
  const tileW = Math.floor(stripH * (4 / 3));
  const p = pageOf(stripCount, perPage, page);
  const stripY = area.height - stripH;
  const totalW = p.onPage * tileW + (p.onPage - 1) * gap;
  const left = Math.max(0, Math.floor((area.width - totalW) / 2));
  const strip = Array.from({ length: p.onPage }, (_, i) => ({ x: left + i * (tileW + gap), y: stripY, width: tileW, height: stripH }));
  return { kind: "stage", main: { x: 0, y: 0, width: area.width, height: stripY - gap }, strip, perPage, pages: p.pages, page: p.page };
}

/**
 * A filmstrip's tile size: `full` when `count` tiles fit along `length`, else the largest size
 * down to `min` at which they all fit, else `min` (and pages). `along(size)` is a tile's extent
 * along the strip for a given `size` across it.
 */
function shrinkToFit(full: number, min: number, length: number, gap: number, count: number, along: (size: number) => number): { size: number; perPage: number } {
  const fits = (size: number) => Math.max(1, Math.floor((length + gap) / (along(size) + gap)));
  if (fits(full) >= count) return { size: full, perPage: fits(full) };
  for (let size = full - 1; size > min; size--) if (fits(size) >= count) return { size, perPage: fits(size) };
  return { size: min, perPage: fits(min) };
}

/** Whether two rectangles share any area (touching edges do not count). */
export function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}
