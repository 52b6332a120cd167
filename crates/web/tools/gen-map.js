#!/usr/bin/env node
// Generates crates/web/src/map_data.rs: simplified world outlines keyed by ISO 3166-1
// alpha-2, for the report-density map on the status page.
//
// Source: Natural Earth 1:110m admin-0 countries (public domain), as TopoJSON in the npm
// package world-atlas. Run from this folder: `npm ci && node gen-map.js`.
//
// Why a generator and not the raw data: the page budget is 30 KB for everything, so the
// outlines are projected (Equal Earth), simplified on the shared arcs (neighbours keep a
// common border), rounded to whole pixels and written as relative path commands.
"use strict";
const fs = require("fs");
const path = require("path");
const countries = require("i18n-iso-countries");
const topo = require("world-atlas/countries-110m.json");

const WIDTH = 960;                 // viewBox width; height follows from the projection
const TOLERANCE = Number(process.env.TOLERANCE || 1.6);   // Douglas-Peucker, in px
const MIN_RING_AREA = Number(process.env.MIN_AREA || 6);  // px²; smaller islands dropped
const OUT = path.join(__dirname, "..", "src", "map_data.rs");

// Equal Earth projection (Šavrič, Patterson, Jenny 2018), radians in, unit plane out.
const [A1, A2, A3, A4] = [1.340264, -0.081106, 0.000893, 0.003796];
const M = Math.sqrt(3) / 2;
function project([lon, lat]) {
    const l = (lon * Math.PI) / 180, p = (lat * Math.PI) / 180;
    const t = Math.asin(M * Math.sin(p)), t2 = t * t, t6 = t2 * t2 * t2;
    const x = (l * Math.cos(t)) / (M * (A1 + 3 * A2 * t2 + t6 * (7 * A3 + 9 * A4 * t2)));
    const y = t * (A1 + A2 * t2 + t6 * (A3 + A4 * t2));
    return [x, -y];
}

// Decode the quantised, delta-encoded arcs into projected points.
const { scale, translate } = topo.transform;
const arcs = topo.arcs.map((arc) => {
    let x = 0, y = 0;
    return arc.map(([dx, dy]) => {
        x += dx; y += dy;
        return project([x * scale[0] + translate[0], y * scale[1] + translate[1]]);
    });
});

// Antarctica fills the bottom of a world map with nothing anyone reports from.
const geoms = topo.objects.countries.geometries.filter((g) => g.id !== "010");

// Bounds over what is drawn, for the pixel transform.
let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
const used = new Set();
for (const g of geoms) {
    const polys = g.type === "Polygon" ? [g.arcs] : g.type === "MultiPolygon" ? g.arcs : [];
    for (const poly of polys) for (const ring of poly) for (const a of ring) used.add(a < 0 ? ~a : a);
}
for (const i of used) for (const [x, y] of arcs[i]) {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
}
const k = WIDTH / (maxX - minX);
const HEIGHT = Math.ceil((maxY - minY) * k);
const px = arcs.map((arc) => arc.map(([x, y]) => [(x - minX) * k, (y - minY) * k]));

function dp(points, tol) {
    if (points.length <= 2) return points;
    const keep = new Uint8Array(points.length);
    keep[0] = keep[points.length - 1] = 1;
    const stack = [[0, points.length - 1]];
    while (stack.length) {
        const [a, b] = stack.pop();
        const [ax, ay] = points[a], [bx, by] = points[b];
        const dx = bx - ax, dy = by - ay, len = Math.hypot(dx, dy);
        let best = -1, far = tol;
        for (let i = a + 1; i < b; i++) {
            const [x, y] = points[i];
            const d = len === 0 ? Math.hypot(x - ax, y - ay) : Math.abs(dy * x - dx * y + bx * ay - by * ax) / len;
            if (d > far) { far = d; best = i; }
        }
        if (best >= 0) { keep[best] = 1; stack.push([a, best], [best, b]); }
    }
    return points.filter((_, i) => keep[i]);
}
const simple = px.map((arc) => dp(arc, TOLERANCE).map(([x, y]) => [Math.round(x), Math.round(y)]));

function ring(arcIdx) {
    const out = [];
    for (const a of arcIdx) {
        const pts = a < 0 ? simple[~a].slice().reverse() : simple[a];
        for (let i = out.length ? 1 : 0; i < pts.length; i++) out.push(pts[i]);
    }
    const dedup = out.filter((p, i) => i === 0 || p[0] !== out[i - 1][0] || p[1] !== out[i - 1][1]);
    return dedup;
}
function area(pts) {
    let s = 0;
    for (let i = 0; i < pts.length; i++) {
        const [x1, y1] = pts[i], [x2, y2] = pts[(i + 1) % pts.length];
        s += x1 * y2 - x2 * y1;
    }
    return Math.abs(s) / 2;
}
function pathOf(rings) {
    let d = "";
    for (const pts of rings) {
        d += `M${pts[0][0]} ${pts[0][1]}l`;
        const parts = [];
        for (let i = 1; i < pts.length; i++) {
            const dx = pts[i][0] - pts[i - 1][0], dy = pts[i][1] - pts[i - 1][1];
            parts.push(`${dx}${dy < 0 ? "" : " "}${dy}`);
        }
        // a minus sign already separates numbers; spaces only before non-negative ones
        d += parts.map((p, i) => (i && !p.startsWith("-") ? " " : "") + p).join("") + "z";
    }
    return d;
}

const byCode = new Map();
let dropped = 0;
for (const g of geoms) {
    const polys = g.type === "Polygon" ? [g.arcs] : g.type === "MultiPolygon" ? g.arcs : [];
    let rings = [];
    for (const poly of polys) {
        // outer ring only: at this size lakes and enclaves are invisible
        const r = ring(poly[0]);
        // A ring that wraps across the antimeridian (Fiji, Chukotka) would draw a line
        // across the whole map: leave it out.
        const xs = r.map((p) => p[0]);
        if (Math.max(...xs) - Math.min(...xs) > WIDTH / 2) continue;
        if (r.length >= 3) rings.push(r);
    }
    rings.sort((a, b) => area(b) - area(a));
    // the largest ring always stays, so every country is on the map
    rings = rings.filter((r, i) => i === 0 || area(r) >= MIN_RING_AREA);
    if (!rings.length) { dropped++; continue; }
    const alpha2 = g.id ? countries.numericToAlpha2(g.id) : undefined;
    const code = alpha2 || "";   // a few disputed areas have no ISO code: drawn, never coloured
    byCode.set(code, (byCode.get(code) || "") + pathOf(rings));
}

const entries = [...byCode.entries()].sort(([a], [b]) => a.localeCompare(b));
const total = entries.reduce((n, [, d]) => n + d.length, 0);
let rs = `//! World map outlines by ISO 3166-1 alpha-2 code, in a ${WIDTH}×${HEIGHT} box.
//!
//! GENERATED by tools/gen-map.js (tolerance ${TOLERANCE} px): do not edit by hand.
//! Made with Natural Earth (<https://www.naturalearthdata.com/>), admin-0 countries at
//! 1:110m, public domain, via the npm package world-atlas. Equal Earth projection;
//! Antarctica left out. Areas without an ISO code have the empty code.

/// The map's size, for the SVG \`viewBox\`.
pub const WIDTH: u32 = ${WIDTH};
pub const HEIGHT: u32 = ${HEIGHT};

/// (alpha-2 code, SVG path data), sorted by code.
#[rustfmt::skip]
pub static COUNTRIES: &[(&str, &str)] = &[\n`;
for (const [code, d] of entries) rs += `    (${JSON.stringify(code)}, ${JSON.stringify(d)}),\n`;
rs += "];\n";
fs.writeFileSync(OUT, rs);
console.log(`${entries.length} areas, ${total} bytes of path data, ${WIDTH}x${HEIGHT}, ${dropped} dropped -> ${OUT}`);
