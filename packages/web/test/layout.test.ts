// Tile geometry (ui/layout.ts): rectangles inside the area, never overlapping, pages past what fits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { capacity, fitGrid, galleryLayout, overlaps, stageLayout, type Rect } from "../src/ui/layout.js";

const opts = { gap: 10, minTileWidth: 220 };
const AREAS = [
  { width: 1256, height: 640 },
  { width: 936, height: 640 },
  { width: 1896, height: 920 },
  { width: 378, height: 700 },
  { width: 200, height: 90 },
];

function checkRects(rects: Rect[], area: { width: number; height: number }, what: string): void {
  for (const r of rects) {
    assert.ok(r.width > 0 && r.height > 0, `${what}: empty tile`);
    assert.ok(r.x >= 0 && r.y >= 0 && r.x + r.width <= area.width && r.y + r.height <= area.height, `${what}: ${JSON.stringify(r)} leaves ${JSON.stringify(area)}`);
  }
  for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) assert.ok(!overlaps(rects[i]!, rects[j]!), `${what}: tiles ${i} and ${j} overlap`);
}

test("gallery tiles stay inside the area and never overlap, for 1 to 40 tiles at every size and page", () => {
  for (const area of AREAS) {
    for (let n = 1; n <= 40; n++) {
      const first = galleryLayout(area, n, 0, opts);
      for (let page = 0; page < first.pages; page++) {
        const l = galleryLayout(area, n, page, opts);
        checkRects(l.tiles, area, `${n} tiles in ${area.width}x${area.height}, page ${page}`);
        const expected = page < l.pages - 1 ? l.perPage : n - page * l.perPage;
        assert.equal(l.tiles.length, expected);
      }
    }
  }
});

test("the stage keeps the main tile and the filmstrip apart, in landscape (column) and portrait (row)", () => {
  for (const area of AREAS) {
    for (let n = 0; n <= 20; n++) {
      const l = stageLayout(area, n, 0, opts);
      checkRects([l.main, ...l.strip], area, `stage + ${n} in ${area.width}x${area.height}`);
      for (const s of l.strip) assert.ok(s.width * s.height <= l.main.width * l.main.height, "the main tile is the largest");
    }
  }
});

test("the grid that fits most: 4 tiles in a wide area are 2×2 or 4×1, never a tall column; pages past the minimum size", () => {
  const g = fitGrid({ width: 1600, height: 900 }, 4, 16 / 9, 10);
  assert.deepEqual([g.cols, g.rows], [2, 2]);
  assert.equal(fitGrid({ width: 2000, height: 300 }, 4, 16 / 9, 10).rows, 1);
  assert.equal(capacity({ width: 378, height: 700 }, 4 / 3, 6, 150), 10);
  const l = galleryLayout({ width: 378, height: 700 }, 16, 5, { gap: 6, minTileWidth: 150 });
  assert.equal(l.page, l.pages - 1, "a page past the end is clamped");
});

test("before paging, a filmstrip's tiles shrink so that more people fit; past the smallest size, pages", () => {
  // A 1280×800 window during a screen share: four others fit in the column at a smaller size.
  const full = stageLayout({ width: 1256, height: 590 }, 3, 0, opts);
  const four = stageLayout({ width: 1256, height: 590 }, 4, 0, opts);
  assert.equal(full.pages, 1);
  assert.equal(four.pages, 1, "four others on one page");
  assert.equal(four.strip.length, 4);
  assert.ok(four.strip[0]!.width < full.strip[0]!.width, "smaller tiles");
  assert.ok(four.main.width >= full.main.width, "the main tile keeps its room");
  const many = stageLayout({ width: 1256, height: 590 }, 30, 0, opts);
  assert.ok(many.pages > 1);
  assert.ok(many.strip[0]!.width >= 120, `tiles stay readable: ${many.strip[0]!.width} px`);
  // Portrait (a phone): the row below shrinks the same way.
  const row3 = stageLayout({ width: 378, height: 600 }, 2, 0, { gap: 6, minTileWidth: 150 });
  const row4 = stageLayout({ width: 378, height: 600 }, 3, 0, { gap: 6, minTileWidth: 150 });
  assert.equal(row4.pages, 1);
  assert.ok(row4.strip[0]!.height <= row3.strip[0]!.height);
});
