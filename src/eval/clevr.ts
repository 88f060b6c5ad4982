/**
 * A procedural CLEVR stand-in (evaluation spec §A7): 3–10 objects (cube,
 * sphere, cylinder; 8 CLEVR colours; rubber or metal; size 0.7 or 0.35)
 * resting on a ground plane, centres at least 0.25 apart beyond their radii,
 * seen through CLEVR's camera (jittered by up to 0.5 per axis, 49° field of
 * view) and ray-traced with a key light, ambient light, shadows and metal
 * highlights, at 64×64.
 *
 * VTAB labels (§A2): `clevr_count` = objects − 3 (8 classes);
 * `clevr_dist` = the nearest object's depth along the camera axis, binned by
 * thresholds [0, 8, 8.5, 9, 9.5, 10, 100] (6 classes), exactly as VTAB bins
 * CLEVR's `pixel_coords[:, 2]`.
 *
 * @module
 */
import { createRng, mixSeed, type Rng } from "../rng.ts";

/** Image side of the renders. */
export const CLEVR_SIZE = 64;
/** VTAB's depth thresholds for `clevr_dist`. */
export const CLEVR_DIST_THRESHOLDS = [0, 8, 8.5, 9, 9.5, 10, 100];
/** CLEVR's colours (RGB 0–255). */
export const CLEVR_COLOURS: [number, number, number][] = [
  [87, 87, 87],
  [173, 35, 35],
  [42, 75, 215],
  [29, 105, 20],
  [129, 74, 25],
  [129, 38, 192],
  [41, 208, 208],
  [255, 238, 51],
];

/**
 * One object of a scene.
 *
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { sampleScene, type SceneObject } from "./clevr.ts";
 * const first: SceneObject = sampleScene(createRng(1)).objects[0]!;
 * if (!["cube", "sphere", "cylinder"].includes(first.shape) || !(first.depth > 0)) throw new Error();
 * ```
 */
export interface SceneObject {
  /** "cube", "sphere" or "cylinder". */
  shape: "cube" | "sphere" | "cylinder";
  /** Index into {@linkcode CLEVR_COLOURS}. */
  colour: number;
  /** Shiny metal or matte rubber. */
  metal: boolean;
  /** Half-extent: 0.7 (large) or 0.35 (small). */
  radius: number;
  /** Centre on the ground plane. */
  x: number;
  /** Centre on the ground plane. */
  y: number;
  /** Rotation about the vertical axis (cubes). */
  angle: number;
  /** Depth of the centre along the camera axis. */
  depth: number;
}

/**
 * A scene: objects and camera.
 *
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { clevrLabel, type Scene, sampleScene } from "./clevr.ts";
 * const scene: Scene = sampleScene(createRng(2));
 * if (clevrLabel("clevr_count", scene) !== scene.objects.length - 3) throw new Error();
 * ```
 */
export interface Scene {
  /** The objects. */
  objects: SceneObject[];
  /** Camera position. */
  camera: [number, number, number];
}

type V3 = [number, number, number];
const sub = (a: V3, b: V3): V3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const dot = (a: V3, b: V3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: V3, b: V3): V3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const norm = (a: V3): V3 => {
  const l = Math.hypot(a[0], a[1], a[2]);
  return [a[0] / l, a[1] / l, a[2] / l];
};

const BASE_CAMERA: V3 = [7.36, -6.93, 4.96];
const LIGHT = norm([-1.0, -0.6, 1.4]);

/**
 * Samples a scene deterministically from a seed.
 *
 * @param rng The generator.
 * @returns The scene.
 *
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { sampleScene } from "./clevr.ts";
 * const s = sampleScene(createRng(3));
 * if (s.objects.length < 3 || s.objects.length > 10) throw new Error();
 * if (JSON.stringify(sampleScene(createRng(3))) !== JSON.stringify(s)) throw new Error("deterministic");
 * ```
 */
export function sampleScene(rng: Rng): Scene {
  const camera: V3 = [
    BASE_CAMERA[0] + (rng.uniform() * 2 - 1) * 0.5,
    BASE_CAMERA[1] + (rng.uniform() * 2 - 1) * 0.5,
    BASE_CAMERA[2] + (rng.uniform() * 2 - 1) * 0.5,
  ];
  const forward = norm(sub([0, 0, 0], camera));
  for (;;) {
    const n = 3 + rng.int(8);
    const objects: SceneObject[] = [];
    let tries = 0;
    while (objects.length < n && tries < 200) {
      tries++;
      const radius = rng.uniform() < 0.5 ? 0.7 : 0.35;
      const x = rng.uniform() * 6 - 3, y = rng.uniform() * 6 - 3;
      if (objects.some((o) => Math.hypot(o.x - x, o.y - y) - o.radius - radius < 0.25)) continue;
      const shape = (["cube", "sphere", "cylinder"] as const)[rng.int(3)]!;
      objects.push({
        shape,
        colour: rng.int(8),
        metal: rng.uniform() < 0.5,
        radius,
        x,
        y,
        angle: rng.uniform() * Math.PI * 2,
        depth: dot(sub([x, y, radius], camera), forward),
      });
    }
    if (objects.length === n) return { objects, camera };
  }
}

/** Ray–object intersection: distance along the ray and the surface normal, or null. */
function intersect(o: SceneObject, ro: V3, rd: V3): { t: number; n: V3 } | null {
  const c: V3 = [o.x, o.y, o.radius], r = o.radius;
  // Cheap rejection against the bounding sphere (radius r·√3 covers cubes and cylinders).
  const oc0 = sub(ro, c), b0 = dot(oc0, rd);
  if (b0 * b0 - dot(oc0, oc0) + 3 * r * r < 0) return null;
  if (o.shape === "sphere") {
    const oc = sub(ro, c), b = dot(oc, rd), q = dot(oc, oc) - r * r, disc = b * b - q;
    if (disc < 0) return null;
    const t = -b - Math.sqrt(disc);
    if (t <= 1e-4) return null;
    const p: V3 = [ro[0] + t * rd[0], ro[1] + t * rd[1], ro[2] + t * rd[2]];
    return { t, n: norm(sub(p, c)) };
  }
  // Cubes and cylinders: work in the object's frame (rotated about z).
  const ca = Math.cos(-o.angle), sa = Math.sin(-o.angle);
  const lo: V3 = [(ro[0] - c[0]) * ca - (ro[1] - c[1]) * sa, (ro[0] - c[0]) * sa + (ro[1] - c[1]) * ca, ro[2] - c[2]];
  const ld: V3 = [rd[0] * ca - rd[1] * sa, rd[0] * sa + rd[1] * ca, rd[2]];
  let t = Infinity, ln: V3 = [0, 0, 1];
  if (o.shape === "cube") {
    let tmin = -Infinity, tmax = Infinity, axis = 0;
    for (let k = 0; k < 3; k++) {
      if (Math.abs(ld[k]!) < 1e-9) {
        if (Math.abs(lo[k]!) > r) return null;
        continue;
      }
      let t1 = (-r - lo[k]!) / ld[k]!, t2 = (r - lo[k]!) / ld[k]!;
      if (t1 > t2) [t1, t2] = [t2, t1];
      if (t1 > tmin) [tmin, axis] = [t1, k];
      tmax = Math.min(tmax, t2);
    }
    if (tmin > tmax || tmin <= 1e-4) return null;
    t = tmin;
    ln = [0, 0, 0];
    ln[axis] = -Math.sign(ld[axis]!);
  } else {
    // Vertical cylinder of radius r, height 2r: side, then the top cap.
    const a = ld[0] * ld[0] + ld[1] * ld[1],
      b = lo[0] * ld[0] + lo[1] * ld[1],
      q = lo[0] * lo[0] + lo[1] * lo[1] - r * r;
    if (a > 1e-12) {
      const disc = b * b - a * q;
      if (disc >= 0) {
        const ts = (-b - Math.sqrt(disc)) / a, z = lo[2] + ts * ld[2];
        if (ts > 1e-4 && Math.abs(z) <= r) {
          t = ts;
          ln = norm([lo[0] + ts * ld[0], lo[1] + ts * ld[1], 0]);
        }
      }
    }
    if (Math.abs(ld[2]) > 1e-9) {
      const tc = (r - lo[2]) / ld[2], px = lo[0] + tc * ld[0], py = lo[1] + tc * ld[1];
      if (tc > 1e-4 && tc < t && px * px + py * py <= r * r) {
        t = tc;
        ln = [0, 0, 1];
      }
    }
    if (!Number.isFinite(t)) return null;
  }
  const cb = Math.cos(o.angle), sb = Math.sin(o.angle);
  return { t, n: [ln[0] * cb - ln[1] * sb, ln[0] * sb + ln[1] * cb, ln[2]] };
}

function occluded(objects: SceneObject[], p: V3, d: V3): boolean {
  for (const o of objects) if (intersect(o, p, d)) return true;
  return false;
}

/**
 * Ray-traces a scene to RGB uint8.
 *
 * @param scene The scene.
 * @param size Image side.
 * @returns [size, size, 3] pixels.
 *
 * @example
 * ```ts
 * import { createRng } from "../rng.ts";
 * import { renderScene, sampleScene } from "./clevr.ts";
 * const img = renderScene(sampleScene(createRng(4)), 32);
 * if (img.length !== 32 * 32 * 3 || new Set(img).size < 10) throw new Error();
 * ```
 */
export function renderScene(scene: Scene, size = CLEVR_SIZE): Uint8Array {
  const out = new Uint8Array(size * size * 3);
  const cam = scene.camera, forward = norm(sub([0, 0, 0.5], cam));
  const right = norm(cross(forward, [0, 0, 1])), up = cross(right, forward);
  const tanHalf = Math.tan((49.1 * Math.PI) / 360);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      const sx = ((px + 0.5) / size * 2 - 1) * tanHalf, sy = (1 - (py + 0.5) / size * 2) * tanHalf;
      const rd = norm([
        forward[0] + sx * right[0] + sy * up[0],
        forward[1] + sx * right[1] + sy * up[1],
        forward[2] + sx * right[2] + sy * up[2],
      ]);
      let best: { t: number; n: V3; o: SceneObject | null } | null = null;
      for (const o of scene.objects) {
        const h = intersect(o, cam, rd);
        if (h && (!best || h.t < best.t)) best = { ...h, o };
      }
      if (rd[2] < 0) {
        const tg = -cam[2] / rd[2];
        if (!best || tg < best.t) best = { t: tg, n: [0, 0, 1], o: null };
      }
      let rgb: V3 = [0.35, 0.35, 0.37]; // sky beyond the ground plane
      if (best) {
        const p: V3 = [cam[0] + best.t * rd[0], cam[1] + best.t * rd[1], cam[2] + best.t * rd[2]];
        const lit =
          occluded(scene.objects, [p[0] + best.n[0] * 1e-3, p[1] + best.n[1] * 1e-3, p[2] + best.n[2] * 1e-3], LIGHT)
            ? 0
            : Math.max(0, dot(best.n, LIGHT));
        const base: V3 = best.o ? CLEVR_COLOURS[best.o.colour]!.map((v) => v / 255) as V3 : [0.62, 0.62, 0.62];
        const shade = 0.3 + 0.7 * lit;
        rgb = [base[0] * shade, base[1] * shade, base[2] * shade];
        if (best.o?.metal && lit > 0) {
          const refl = sub(rd, best.n.map((v) => 2 * dot(rd, best!.n) * v) as V3);
          const spec = Math.pow(Math.max(0, dot(norm(refl), LIGHT)), 24);
          rgb = rgb.map((v) => v * 0.8 + spec) as V3;
        }
      }
      const o = (py * size + px) * 3;
      for (let k = 0; k < 3; k++) out[o + k] = Math.max(0, Math.min(255, Math.round(rgb[k]! * 255)));
    }
  }
  return out;
}

/** Labels of a scene for the two VTAB tasks. */
export function clevrLabel(task: "clevr_count" | "clevr_dist", scene: Scene): number {
  if (task === "clevr_count") return scene.objects.length - 3;
  const d = Math.min(...scene.objects.map((o) => o.depth));
  let label = 0;
  for (let i = 0; i < CLEVR_DIST_THRESHOLDS.length - 1; i++) if (d > CLEVR_DIST_THRESHOLDS[i]!) label = i;
  return label;
}

/** Split ids for seeding. */
const SPLIT_ID = { train: 0, val: 1, test: 2 } as const;

/**
 * Renders scenes `start … start + n − 1` of a split with a task's labels.
 *
 * @param task Which labels.
 * @param split Which split (disjoint seeds).
 * @param n How many.
 * @param start First scene index.
 * @returns Images [n, 64, 64, 3] and labels.
 * @example
 * ```ts
 * import { renderClevr } from "./clevr.ts";
 * const { images, labels } = renderClevr("clevr_count", "train", 2);
 * if (images.length !== 2 * 64 * 64 * 3 || labels[0]! > 7) throw new Error();
 * ```
 */
export function renderClevr(
  task: "clevr_count" | "clevr_dist",
  split: "train" | "val" | "test",
  n: number,
  start = 0,
): { images: Uint8Array; labels: Uint16Array } {
  const size = CLEVR_SIZE * CLEVR_SIZE * 3;
  const images = new Uint8Array(n * size), labels = new Uint16Array(n);
  for (let k = 0; k < n; k++) {
    const scene = sampleScene(createRng(mixSeed(0xc1e7, SPLIT_ID[split], start + k)));
    images.set(renderScene(scene), k * size);
    labels[k] = clevrLabel(task, scene);
  }
  return { images, labels };
}
