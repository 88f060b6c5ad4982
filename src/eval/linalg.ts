/**
 * Small dense linear algebra in float64 for the evaluators: Cholesky solves
 * (ridge regression) and symmetric eigendecomposition (Fréchet distance).
 *
 * @module
 */

/**
 * Solves A·X = B for symmetric positive-definite A (Cholesky).
 *
 * @param A d×d, row-major (not modified).
 * @param B d×c, row-major.
 * @param d Size of A.
 * @param c Columns of B.
 * @returns X, d×c.
 * @example
 * ```ts
 * import { choleskySolve } from "./linalg.ts";
 * const x = choleskySolve(new Float64Array([4, 2, 2, 3]), new Float64Array([2, 1]), 2, 1);
 * if (Math.abs(x[0]! - 0.5) > 1e-12 || Math.abs(x[1]!) > 1e-12) throw new Error();
 * ```
 */
export function choleskySolve(A: Float64Array, B: Float64Array, d: number, c: number): Float64Array {
  return solveFactored(cholesky(A, d), B, d, c);
}

/**
 * The Cholesky factor L (lower triangular, A = L·Lᵀ) of a symmetric
 * positive-definite matrix, for solving many systems with one A.
 *
 * @param A d×d, row-major (not modified).
 * @param d Size of A.
 * @returns L, d×d row-major.
 * @example
 * ```ts
 * import { cholesky } from "./linalg.ts";
 * const L = cholesky(new Float64Array([4, 2, 2, 5]), 2);
 * if (L[0] !== 2 || L[2] !== 1 || L[3] !== 2) throw new Error();
 * ```
 */
export function cholesky(A: Float64Array, d: number): Float64Array {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * d + j]!;
      for (let k = 0; k < j; k++) s -= L[i * d + k]! * L[j * d + k]!;
      if (i === j) {
        if (!(s > 0)) throw new RangeError(`cholesky: matrix is not positive definite (pivot ${i}: ${s})`);
        L[i * d + i] = Math.sqrt(s);
      } else {
        L[i * d + j] = s / L[j * d + j]!;
      }
    }
  }
  return L;
}

/**
 * Solves L·Lᵀ·X = B given the Cholesky factor L.
 *
 * @param L From {@linkcode cholesky}, d×d.
 * @param B d×c, row-major.
 * @param d Size of L.
 * @param c Columns of B.
 * @returns X, d×c.
 * @example
 * ```ts
 * import { cholesky, solveFactored } from "./linalg.ts";
 * const x = solveFactored(cholesky(new Float64Array([4, 2, 2, 3]), 2), new Float64Array([2, 1]), 2, 1);
 * if (Math.abs(x[0]! - 0.5) > 1e-12 || Math.abs(x[1]!) > 1e-12) throw new Error();
 * ```
 */
export function solveFactored(L: Float64Array, B: Float64Array, d: number, c: number): Float64Array {
  const X = new Float64Array(B);
  // All c right-hand sides at once, so every inner loop runs over contiguous memory.
  for (let i = 0; i < d; i++) { // L y = b
    const row = i * c;
    for (let k = 0; k < i; k++) {
      const l = L[i * d + k]!;
      if (l === 0) continue;
      for (let col = 0; col < c; col++) X[row + col]! -= l * X[k * c + col]!;
    }
    const inv = 1 / L[i * d + i]!;
    for (let col = 0; col < c; col++) X[row + col]! *= inv;
  }
  for (let i = d - 1; i >= 0; i--) { // Lᵀ x = y: row i of Lᵀ is column i of L, so scatter instead of gather
    const row = i * c, inv = 1 / L[i * d + i]!;
    for (let col = 0; col < c; col++) X[row + col]! *= inv;
    for (let k = 0; k < i; k++) {
      const l = L[i * d + k]!;
      if (l === 0) continue;
      for (let col = 0; col < c; col++) X[k * c + col]! -= l * X[row + col]!;
    }
  }
  return X;
}

/**
 * Eigenvalues and eigenvectors of a symmetric matrix (cyclic Jacobi).
 *
 * @param A d×d symmetric, row-major (not modified).
 * @param d Size.
 * @returns Eigenvalues and eigenvectors (columns of V, row-major d×d).
 * @example
 * ```ts
 * import { symmetricEigen } from "./linalg.ts";
 * const { values } = symmetricEigen(new Float64Array([2, 1, 1, 2]), 2);
 * const v = [...values].sort();
 * if (Math.abs(v[0]! - 1) > 1e-10 || Math.abs(v[1]! - 3) > 1e-10) throw new Error();
 * ```
 */
export function symmetricEigen(A: Float64Array, d: number): { values: Float64Array; vectors: Float64Array } {
  const a = new Float64Array(A);
  const V = new Float64Array(d * d);
  for (let i = 0; i < d; i++) V[i * d + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0, total = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        const v = a[i * d + j]! * a[i * d + j]!;
        total += v;
        if (i !== j) off += v;
      }
    }
    if (off <= 1e-22 * Math.max(total, 1e-300)) break;
    for (let p = 0; p < d - 1; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * d + q]! - a[p * d + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < d; k++) { // columns p, q
          const akp = a[k * d + p]!, akq = a[k * d + q]!;
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) { // rows p, q
          const apk = a[p * d + k]!, aqk = a[q * d + k]!;
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = V[k * d + p]!, vkq = V[k * d + q]!;
          V[k * d + p] = c * vkp - s * vkq;
          V[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = a[i * d + i]!;
  return { values, vectors: V };
}
