// darl's CPU kernels: WebAssembly SIMD (relaxed FMA), run on every thread of
// a pool that shares one memory. Built by `deno task build:wasm` into
// kernels_wasm.ts; see cpu/README in src/kernels/cpu/runtime.ts.
//
// Every parallel kernel is a task `fn(args, tid, nt)` run by all `nt` threads.
// Tasks whose outputs are disjoint per work item claim items dynamically (a
// shared counter), so a thread the OS delays does not hold the others up;
// tasks that reduce across rows split statically so the summation order is
// fixed. Either way each output element is computed in one fixed order:
// results never depend on thread timing.

#include <stdint.h>
#include <wasm_simd128.h>

typedef v128_t f4;
#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store(p, v)
#define SPLAT(x) wasm_f32x4_splat(x)
#define FMA(a, b, c) wasm_f32x4_relaxed_madd(a, b, c) /* a*b + c */
#define ADD(a, b) wasm_f32x4_add(a, b)
#define SUB(a, b) wasm_f32x4_sub(a, b)
#define MUL(a, b) wasm_f32x4_mul(a, b)
#define DIV(a, b) wasm_f32x4_div(a, b)
#define EXPORT(name) __attribute__((export_name(#name)))

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }
static inline float hsum(f4 v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) +
         wasm_f32x4_extract_lane(v, 3);
}

// Even split of [0, n) into nt contiguous parts.
static inline void share(int n, int tid, int nt, int* lo, int* hi) {
  *lo = (int)((int64_t)n * tid / nt);
  *hi = (int)((int64_t)n * (tid + 1) / nt);
}

// Dynamic work sharing: the next unclaimed item of the running task. The host
// resets it to 0 before every run (see runtime.ts).
static int32_t g_next;
EXPORT(work_counter) int32_t* work_counter(void) { return &g_next; }
static inline int claim(void) { return __atomic_fetch_add(&g_next, 1, __ATOMIC_RELAXED); }
enum { ROWS_PER_CLAIM = 16 };

// ---------------------------------------------------------------------------
// exp: Cephes-style range reduction and degree-6 polynomial (~1 ulp).

static const float LOG2E = 1.44269504088896341f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;

// pmin/pmax and the 1.5·2²³ rounding trick instead of min/max and
// trunc_sat: V8 lowers those to long NaN-safe sequences on x64.
static inline f4 exp4(f4 x) {
  x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, SPLAT(-87.3f)), SPLAT(88.7f));
  f4 shifted = ADD(MUL(x, SPLAT(LOG2E)), SPLAT(12582912.0f));  // round(x·log2 e) in the low mantissa bits
  f4 n = SUB(shifted, SPLAT(12582912.0f));
  f4 r = SUB(SUB(x, MUL(n, SPLAT(LN2_HI))), MUL(n, SPLAT(LN2_LO)));
  f4 p = SPLAT(1.9875691500e-4f);
  p = FMA(p, r, SPLAT(1.3981999507e-3f));
  p = FMA(p, r, SPLAT(8.3334519073e-3f));
  p = FMA(p, r, SPLAT(4.1665795894e-2f));
  p = FMA(p, r, SPLAT(1.6666665459e-1f));
  p = FMA(p, r, SPLAT(5.0000001201e-1f));
  p = FMA(p, MUL(r, r), ADD(r, SPLAT(1.0f)));
  v128_t e = wasm_i32x4_shl(wasm_i32x4_add(shifted, wasm_i32x4_splat(127 - 0x4B400000)), 23);
  return MUL(p, e);
}

static inline float exp1(float x) { return wasm_f32x4_extract_lane(exp4(SPLAT(x)), 0); }

// log for x > 0: x = m·2^e with m in [√½, √2); log m = 2·atanh(s), s = (m−1)/(m+1).
static float log1(float x) {
  union { float f; uint32_t u; } v = {x};
  int e = (int)((v.u >> 23) & 0xff) - 127;
  v.u = (v.u & 0x007fffff) | 0x3f800000;  // m in [1, 2)
  float m = v.f;
  if (m > 1.41421356f) {
    m *= 0.5f;
    e += 1;
  }
  float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
  float p = s * (2.0f + s2 * (0.666666667f + s2 * (0.4f + s2 * (0.285714286f + s2 * 0.222222222f))));
  return (float)e * 0.693147181f + p;
}

// ---------------------------------------------------------------------------
// GEMM: C[b] = op(A[b]) · op(B[b]) (+ bias), op = identity or transpose.
// Packed panels: A in MR-row strips [k][MR], B in NR-column strips [k][NR].

// MR=4, KC=256, MC=64 measured fastest here (MR=6, KC=128 and an out-of-line
// micro-kernel were each slower on V8's SIMD lowering). Its 8 accumulator
// chains cap the FMA pipes at 8/10 of fma_peak_task's rate; 10 or 12 (MR=5 or
// 6) measured slower, V8 presumably running short of its 15 usable vector registers.
enum { MR = 4, NR = 8, KC = 256, MC = 64, NC = 256 };
_Static_assert(MR == 4, "micro_kernel reads a packed A row as one 4-lane vector");

typedef struct {
  const float* A;
  const float* B;
  float* C;
  const float* bias;  // [N] or null
  int32_t M, N, K, lda, ldb, ldc, transA, transB, batch;
  int32_t strideA, strideB, strideC;  // elements between batch items (0: broadcast)
  float* scratch;                     // per thread: MC·KC floats (packed A)
  float* packedB;                     // all of op(B), packed: see gemm_packed_b_floats
} gemm_args;

#define SCRATCH_FLOATS (MC * KC + 64)

static inline int gemm_panels(int N) { return (N + NR - 1) / NR; }
static inline int gemm_kblocks(int K) { return (K + KC - 1) / KC; }
static inline int gemm_b_items(const gemm_args* g) { return g->strideB ? g->batch : 1; }

static void pack_a(const float* A, int lda, int transA, int i0, int k0, int mc, int kc, float* Ap) {
  for (int p = 0; p < mc; p += MR) {
    int mr = imin(MR, mc - p);
    if (!transA) {
      for (int r = 0; r < MR; r++) {
        float* dst = Ap + r;
        if (r < mr) {
          const float* src = A + (int64_t)(i0 + p + r) * lda + k0;
          for (int k = 0; k < kc; k++) dst[k * MR] = src[k];
        } else {
          for (int k = 0; k < kc; k++) dst[k * MR] = 0.0f;
        }
      }
    } else {
      for (int k = 0; k < kc; k++) {
        const float* src = A + (int64_t)(k0 + k) * lda + i0 + p;
        for (int r = 0; r < MR; r++) Ap[k * MR + r] = r < mr ? src[r] : 0.0f;
      }
    }
    Ap += MR * kc;
  }
}

static void pack_b(const float* B, int ldb, int transB, int j0, int k0, int nc, int kc, float* Bp) {
  for (int q = 0; q < nc; q += NR) {
    int nr = imin(NR, nc - q);
    if (!transB) {
      for (int k = 0; k < kc; k++) {
        const float* src = B + (int64_t)(k0 + k) * ldb + j0 + q;
        float* dst = Bp + k * NR;
        if (nr == NR) {
          ST(dst, LD(src));
          ST(dst + 4, LD(src + 4));
        } else {
          for (int c = 0; c < NR; c++) dst[c] = c < nr ? src[c] : 0.0f;
        }
      }
    } else {
      for (int c = 0; c < NR; c++) {
        float* dst = Bp + c;
        if (c < nr) {
          const float* src = B + (int64_t)(j0 + q + c) * ldb + k0;
          for (int k = 0; k < kc; k++) dst[k * NR] = src[k];
        } else {
          for (int k = 0; k < kc; k++) dst[k * NR] = 0.0f;
        }
      }
    }
    Bp += NR * kc;
  }
}

// Lane r of v in every lane. One load of A's MR values and MR shuffles beat MR
// broadcast loads: V8 bounds-checks each WebAssembly load (Deno installs no
// trap handler), so loads, not multiply-adds, bounded the micro-kernel.
static inline f4 splat_lane(f4 v, int r) {
  switch (r) {
    case 0: return wasm_i32x4_shuffle(v, v, 0, 0, 0, 0);
    case 1: return wasm_i32x4_shuffle(v, v, 1, 1, 1, 1);
    case 2: return wasm_i32x4_shuffle(v, v, 2, 2, 2, 2);
    default: return wasm_i32x4_shuffle(v, v, 3, 3, 3, 3);
  }
}

// One MR×NR tile over kc. first: C = acc (+ bias); else C += acc.
// MR·2 accumulators + 2 B vectors + A's vector + 1 broadcast fit x64's 16 vector registers.
static void micro_kernel(int kc, const float* Ap, const float* Bp, float* C, int ldc, int mr, int nr, int first,
                         const float* bias) {
  f4 acc[MR][2];
#pragma clang loop unroll(full)
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = wasm_f32x4_const_splat(0);
  for (int k = 0; k < kc; k++) {
    f4 b0 = LD(Bp), b1 = LD(Bp + 4), av = LD(Ap);
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
      f4 a = splat_lane(av, r);
      acc[r][0] = FMA(a, b0, acc[r][0]);
      acc[r][1] = FMA(a, b1, acc[r][1]);
    }
    Ap += MR;
    Bp += NR;
  }
  if (mr == MR && nr == NR) {
    f4 bias0 = wasm_f32x4_const_splat(0), bias1 = bias0;
    if (first && bias) {
      bias0 = LD(bias);
      bias1 = LD(bias + 4);
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
      float* c = C + r * ldc;
      if (first) {
        ST(c, ADD(acc[r][0], bias0));
        ST(c + 4, ADD(acc[r][1], bias1));
      } else {
        ST(c, ADD(LD(c), acc[r][0]));
        ST(c + 4, ADD(LD(c + 4), acc[r][1]));
      }
    }
  } else {
    float tmp[MR * NR];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
      ST(tmp + r * NR, acc[r][0]);
      ST(tmp + r * NR + 4, acc[r][1]);
    }
    for (int r = 0; r < mr; r++)
      for (int c = 0; c < nr; c++) {
        float v = tmp[r * NR + c];
        if (first)
          C[r * ldc + c] = v + (bias ? bias[c] : 0.0f);
        else
          C[r * ldc + c] += v;
      }
  }
}

// Phase 1: pack op(B) once for the whole call, [item][kblock][panel][KC][NR],
// parallel over (item, kblock, panel).
static void gemm_pack_b_task(const gemm_args* g, int tid, int nt) {
  (void)tid;
  (void)nt;
  int P = gemm_panels(g->N), KB = gemm_kblocks(g->K), items = gemm_b_items(g), n = items * KB * P;
  for (int t = claim(); t < n; t = claim()) {
    int bb = t / (KB * P), kb = (t / P) % KB, q = t % P;
    int k0 = kb * KC, kc = imin(KC, g->K - k0);
    float* dst = g->packedB + (((int64_t)bb * KB + kb) * P + q) * KC * NR;
    pack_b(g->B + (int64_t)bb * g->strideB, g->ldb, g->transB, q * NR, k0, imin(NR, g->N - q * NR), kc, dst);
  }
}

// Phase 2: work items (batch, MC-row block, slice of the N panels); each packs
// its A block per k-block and sweeps its panels with the micro-kernel.
static void gemm_task(const gemm_args* g, int tid, int nt) {
  int P = gemm_panels(g->N), KB = gemm_kblocks(g->K);
  // At least two items per thread so dynamic claiming can balance uneven tails.
  int want = 2 * nt;
  int mcT = MC;
  while (mcT > MR * 2 && (int64_t)g->batch * ((g->M + mcT - 1) / mcT) < want) mcT /= 2;
  mcT = imax(MR, mcT / MR * MR);
  int mb = (g->M + mcT - 1) / mcT;
  int splits = 1;
  while ((int64_t)g->batch * mb * splits < want && splits * 2 <= P) splits *= 2;
  int total = g->batch * mb * splits;
  float* Ap = g->scratch + (int64_t)tid * SCRATCH_FLOATS;
  for (int t = claim(); t < total; t = claim()) {
    int b = t / (mb * splits), mi = (t / splits) % mb, si = t % splits;
    int i0 = mi * mcT, mc = imin(mcT, g->M - i0);
    int q0 = (int)((int64_t)P * si / splits), q1 = (int)((int64_t)P * (si + 1) / splits);
    const float* A = g->A + (int64_t)b * g->strideA;
    float* C = g->C + (int64_t)b * g->strideC;
    const float* Bp = g->packedB + (int64_t)(g->strideB ? b : 0) * KB * P * KC * NR;
    if (g->K == 0) {
      for (int i = 0; i < mc; i++)
        for (int j = q0 * NR; j < imin(q1 * NR, g->N); j++)
          C[(int64_t)(i0 + i) * g->ldc + j] = g->bias ? g->bias[j] : 0.0f;
      continue;
    }
    for (int kb = 0; kb < KB; kb++) {
      int k0 = kb * KC, kc = imin(KC, g->K - k0);
      pack_a(A, g->lda, g->transA, i0, k0, mc, kc, Ap);
      for (int q = q0; q < q1; q++) {
        int j0 = q * NR, nr = imin(NR, g->N - j0);
        const float* bp = Bp + ((int64_t)kb * P + q) * KC * NR;
        const float* bias = g->bias ? g->bias + j0 : 0;
        for (int ir = 0; ir < mc; ir += MR) {
          micro_kernel(kc, Ap + ir * kc, bp, C + (int64_t)(i0 + ir) * g->ldc + j0, g->ldc, imin(MR, mc - ir), nr,
                       kb == 0, bias);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// LayerNorm over rows of width D. Forward saves mean and rstd per row.

typedef struct {
  const float* x;
  const float* g;
  const float* b;
  float* y;
  float* mean;
  float* rstd;
  int32_t rows, D;
  float eps;
} ln_fwd_args;

static void ln_fwd_task(const ln_fwd_args* a, int tid, int nt) {
  (void)tid;
  (void)nt;
  int D = a->D, D4 = D & ~3;
  for (int lo = claim() * ROWS_PER_CLAIM; lo < a->rows; lo = claim() * ROWS_PER_CLAIM) {
    for (int r = lo, hi = imin(a->rows, lo + ROWS_PER_CLAIM); r < hi; r++) {
      const float* x = a->x + (int64_t)r * D;
      float* y = a->y + (int64_t)r * D;
      f4 s = wasm_f32x4_const_splat(0);
      int i = 0;
      for (; i < D4; i += 4) s = ADD(s, LD(x + i));
      float sum = hsum(s);
      for (; i < D; i++) sum += x[i];
      float mu = sum / D;
      f4 vmu = SPLAT(mu), q = wasm_f32x4_const_splat(0);
      for (i = 0; i < D4; i += 4) {
        f4 d = SUB(LD(x + i), vmu);
        q = FMA(d, d, q);
      }
      float ss = hsum(q);
      for (; i < D; i++) ss += (x[i] - mu) * (x[i] - mu);
      float rs = 1.0f / __builtin_sqrtf(ss / D + a->eps);
      a->mean[r] = mu;
      a->rstd[r] = rs;
      f4 vrs = SPLAT(rs);
      for (i = 0; i < D4; i += 4) ST(y + i, FMA(MUL(SUB(LD(x + i), vmu), vrs), LD(a->g + i), LD(a->b + i)));
      for (; i < D; i++) y[i] = (x[i] - mu) * rs * a->g[i] + a->b[i];
    }
  }
}

// dx = rstd·(dŷ − mean(dŷ) − x̂·mean(dŷ·x̂)), dŷ = dy·g; dg, db: column sums,
// written per thread to partial[tid][2·D] and summed by ln_reduce.
typedef struct {
  const float* x;
  const float* g;
  const float* dy;
  const float* mean;
  const float* rstd;
  float* dx;
  float* partial;  // [nt][2][D]
  int32_t rows, D;
} ln_bwd_args;

static void ln_bwd_task(const ln_bwd_args* a, int tid, int nt) {
  int lo, hi, D = a->D, D4 = D & ~3;
  share(a->rows, tid, nt, &lo, &hi);
  float* dg = a->partial + (int64_t)tid * 2 * D;
  float* db = dg + D;
  for (int i = 0; i < D; i++) dg[i] = db[i] = 0.0f;
  for (int r = lo; r < hi; r++) {
    const float* x = a->x + (int64_t)r * D;
    const float* dy = a->dy + (int64_t)r * D;
    float* dx = a->dx + (int64_t)r * D;
    float mu = a->mean[r], rs = a->rstd[r];
    f4 vmu = SPLAT(mu), vrs = SPLAT(rs), s1 = wasm_f32x4_const_splat(0), s2 = s1;
    int i = 0;
    for (; i < D4; i += 4) {
      f4 xh = MUL(SUB(LD(x + i), vmu), vrs), d = LD(dy + i), dh = MUL(d, LD(a->g + i));
      s1 = ADD(s1, dh);
      s2 = FMA(dh, xh, s2);
      ST(dg + i, FMA(d, xh, LD(dg + i)));
      ST(db + i, ADD(d, LD(db + i)));
    }
    float m1 = hsum(s1), m2 = hsum(s2);
    for (; i < D; i++) {
      float xh = (x[i] - mu) * rs, dh = dy[i] * a->g[i];
      m1 += dh;
      m2 += dh * xh;
      dg[i] += dy[i] * xh;
      db[i] += dy[i];
    }
    m1 /= D;
    m2 /= D;
    f4 vm1 = SPLAT(m1), vm2 = SPLAT(m2);
    for (i = 0; i < D4; i += 4) {
      f4 xh = MUL(SUB(LD(x + i), vmu), vrs), dh = MUL(LD(dy + i), LD(a->g + i));
      ST(dx + i, MUL(vrs, SUB(SUB(dh, vm1), MUL(xh, vm2))));
    }
    for (; i < D; i++) {
      float xh = (x[i] - mu) * rs, dh = dy[i] * a->g[i];
      dx[i] = rs * (dh - m1 - xh * m2);
    }
  }
}

// out[j] = Σ_t partial[t][j] over nt threads, for `width` columns.
typedef struct {
  const float* partial;
  float* out;
  int32_t width, parts;
} reduce_args;

static void reduce_task(const reduce_args* a, int tid, int nt) {
  int lo, hi;
  share(a->width, tid, nt, &lo, &hi);
  for (int j = lo; j < hi; j++) {
    float s = 0.0f;
    for (int t = 0; t < a->parts; t++) s += a->partial[(int64_t)t * a->width + j];
    a->out[j] = s;
  }
}

// ---------------------------------------------------------------------------
// Column sums of a [rows, cols] matrix (bias gradients): per-thread partials.

typedef struct {
  const float* x;
  float* partial;  // [nt][cols]
  int32_t rows, cols;
} colsum_args;

static void colsum_task(const colsum_args* a, int tid, int nt) {
  int lo, hi, C = a->cols, C4 = C & ~3;
  share(a->rows, tid, nt, &lo, &hi);
  float* p = a->partial + (int64_t)tid * C;
  for (int j = 0; j < C; j++) p[j] = 0.0f;
  for (int r = lo; r < hi; r++) {
    const float* x = a->x + (int64_t)r * C;
    int j = 0;
    for (; j < C4; j += 4) ST(p + j, ADD(LD(p + j), LD(x + j)));
    for (; j < C; j++) p[j] += x[j];
  }
}

// Row sums of a [rows, cols] matrix.
typedef struct {
  const float* x;
  float* out;
  int32_t rows, cols;
} rowsum_args;

static void rowsum_task(const rowsum_args* a, int tid, int nt) {
  int lo, hi, C = a->cols, C4 = C & ~3;
  share(a->rows, tid, nt, &lo, &hi);
  for (int r = lo; r < hi; r++) {
    const float* x = a->x + (int64_t)r * C;
    f4 s = wasm_f32x4_const_splat(0);
    int j = 0;
    for (; j < C4; j += 4) s = ADD(s, LD(x + j));
    float t = hsum(s);
    for (; j < C; j++) t += x[j];
    a->out[r] = t;
  }
}

// ---------------------------------------------------------------------------
// GELU (tanh form) with a bias over the last axis: y = gelu(x + b).
// gelu(u) = u·σ(2k(u + 0.044715u³)), k = √(2/π).

static const float GELU_K = 0.7978845608028654f, GELU_C = 0.044715f;

typedef struct {
  const float* x;
  const float* b;
  float* y;
  int32_t rows, cols;
} bias_gelu_args;

static void bias_gelu_fwd_task(const bias_gelu_args* a, int tid, int nt) {
  (void)tid;
  (void)nt;
  int C = a->cols, C4 = C & ~3;
  const f4 one = SPLAT(1.0f), k2 = SPLAT(-2.0f * GELU_K), c = SPLAT(GELU_C);
  for (int lo = claim() * ROWS_PER_CLAIM; lo < a->rows; lo = claim() * ROWS_PER_CLAIM) {
    for (int r = lo, hi = imin(a->rows, lo + ROWS_PER_CLAIM); r < hi; r++) {
      const float* x = a->x + (int64_t)r * C;
      float* y = a->y + (int64_t)r * C;
      int j = 0;
      for (; j < C4; j += 4) {
        f4 u = ADD(LD(x + j), LD(a->b + j));
        f4 z = MUL(k2, FMA(MUL(c, u), MUL(u, u), u));
        ST(y + j, DIV(u, ADD(one, exp4(z))));
      }
      for (; j < C; j++) {
        float u = x[j] + a->b[j];
        y[j] = u / (1.0f + exp1(-2.0f * GELU_K * (u + GELU_C * u * u * u)));
      }
    }
  }
}

// dx = dy · gelu'(x + b); db = column sums of dx (per-thread partials).
typedef struct {
  const float* x;
  const float* b;
  const float* dy;
  float* dx;
  float* partial;  // [nt][cols]
  int32_t rows, cols;
} bias_gelu_bwd_args;

static void bias_gelu_bwd_task(const bias_gelu_bwd_args* a, int tid, int nt) {
  int lo, hi, C = a->cols, C4 = C & ~3;
  share(a->rows, tid, nt, &lo, &hi);
  float* p = a->partial + (int64_t)tid * C;
  for (int j = 0; j < C; j++) p[j] = 0.0f;
  const f4 one = SPLAT(1.0f), k2 = SPLAT(-2.0f * GELU_K), c = SPLAT(GELU_C), c3 = SPLAT(3.0f * GELU_C);
  const f4 dk = SPLAT(2.0f * GELU_K);
  for (int r = lo; r < hi; r++) {
    const float* x = a->x + (int64_t)r * C;
    const float* dy = a->dy + (int64_t)r * C;
    float* dx = a->dx + (int64_t)r * C;
    int j = 0;
    for (; j < C4; j += 4) {
      f4 u = ADD(LD(x + j), LD(a->b + j)), u2 = MUL(u, u);
      f4 s = DIV(one, ADD(one, exp4(MUL(k2, FMA(MUL(c, u), u2, u)))));
      // d/du [u·σ(z)] = σ + u·σ(1−σ)·dz/du, dz/du = 2k(1 + 3c·u²)
      f4 dz = MUL(dk, FMA(c3, u2, one));
      f4 g = FMA(MUL(MUL(u, s), SUB(one, s)), dz, s);
      f4 d = MUL(LD(dy + j), g);
      ST(dx + j, d);
      ST(p + j, ADD(LD(p + j), d));
    }
    for (; j < C; j++) {
      float u = x[j] + a->b[j], u2 = u * u;
      float s = 1.0f / (1.0f + exp1(-2.0f * GELU_K * (u + GELU_C * u * u2)));
      float g = s + u * s * (1.0f - s) * 2.0f * GELU_K * (1.0f + 3.0f * GELU_C * u2);
      float d = dy[j] * g;
      dx[j] = d;
      p[j] += d;
    }
  }
}

// ---------------------------------------------------------------------------
// Fused multi-head attention with RoPE, from packed qkv [B, T, 3d].
// Per (batch, head): rotate q and k, S = q·kᵀ/√dh (+ causal mask), softmax,
// o = P·v. The forward saves the log-sum-exp of each row for the backward.
// `mask` = 0: every query sees every key; c ≥ 1: query i sees key j when
// j ≤ i or j < c (AIM's prefix attention; c = 1 is the plain causal mask).

typedef struct {
  const float* qkv;
  const float* cos;  // [T, dh] or null (no RoPE)
  const float* sin;
  float* out;  // [B, T, d]
  float* lse;  // [B, H, T]
  int32_t B, T, H, dh, segment, mask;  // mask: 0 dense, c ≥ 1 prefix c (above)
  float* scratch;  // per thread: attn_scratch_floats(T, dh)
  int32_t scratchFloats;
} attn_args;

// y = x·cos + rot(x)·sin; rot: within each segment [x1, x2] → [−x2, x1].
static inline void rope_row(const float* x, const float* c, const float* s, float* y, int dh, int seg) {
  int half = seg / 2;
  for (int o = 0; o < dh; o += seg) {
    for (int i = o; i < o + half; i++) {
      y[i] = x[i] * c[i] - x[i + half] * s[i];
      y[i + half] = x[i + half] * c[i + half] + x[i] * s[i + half];
    }
  }
}

// Adjoint of rope_row: dx = dy·cos − rot(dy·sin).
static inline void rope_row_adjoint(const float* dy, const float* c, const float* s, float* dx, int dh, int seg) {
  int half = seg / 2;
  for (int o = 0; o < dh; o += seg) {
    for (int i = o; i < o + half; i++) {
      dx[i] = dy[i] * c[i] + dy[i + half] * s[i + half];
      dx[i + half] = dy[i + half] * c[i + half] - dy[i] * s[i];
    }
  }
}


// Causal structure a product may exploit (rows i of C, blocks of 4):
// MM_COLS: only C columns j < i0 + 4 are needed (scores; the rest is masked);
// MM_K_BELOW: A(i, k) = 0 for k > i (P·V, dS·K); MM_K_ABOVE: A(i, k) = 0 for
// k < i (Pᵀ·dO, dSᵀ·Q). Skipping the zero half halves attention's work.
enum { MM_DENSE = 0, MM_COLS = 1, MM_K_BELOW = 2, MM_K_ABOVE = 3 };

// Small unpacked products for attention: C[M×N] = op(A)[M×K] · B[K×N], with
// A(i, k) at A[i·lda + k] (or A[k·lda + i] when ta), B rows contiguous.
// N is a multiple of 4.
static void mm_small(const float* A, int lda, int ta, const float* B, int ldb, float* C, int ldc, int M, int N0, int K0,
                     int causal) {
  int i0 = 0;
  for (; i0 + 4 <= M; i0 += 4) {
    int N = causal == MM_COLS ? imin(N0, i0 + 4) : N0;
    int K = causal == MM_K_BELOW ? imin(K0, i0 + 4) : K0;
    int kStart = causal == MM_K_ABOVE ? imin(K0, i0) : 0;
    int j0 = 0;
    for (; j0 + 8 <= N; j0 += 8) {
      f4 c00 = wasm_f32x4_const_splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      for (int k = kStart; k < K; k++) {
        const float* b = B + (int64_t)k * ldb + j0;
        f4 b0 = LD(b), b1 = LD(b + 4);
        f4 a0, a1, a2, a3;
        if (ta) {
          f4 av = LD(A + (int64_t)k * lda + i0);
          a0 = wasm_i32x4_shuffle(av, av, 0, 0, 0, 0);
          a1 = wasm_i32x4_shuffle(av, av, 1, 1, 1, 1);
          a2 = wasm_i32x4_shuffle(av, av, 2, 2, 2, 2);
          a3 = wasm_i32x4_shuffle(av, av, 3, 3, 3, 3);
        } else {
          a0 = wasm_v128_load32_splat(A + (int64_t)(i0 + 0) * lda + k);
          a1 = wasm_v128_load32_splat(A + (int64_t)(i0 + 1) * lda + k);
          a2 = wasm_v128_load32_splat(A + (int64_t)(i0 + 2) * lda + k);
          a3 = wasm_v128_load32_splat(A + (int64_t)(i0 + 3) * lda + k);
        }
        c00 = FMA(a0, b0, c00);
        c01 = FMA(a0, b1, c01);
        c10 = FMA(a1, b0, c10);
        c11 = FMA(a1, b1, c11);
        c20 = FMA(a2, b0, c20);
        c21 = FMA(a2, b1, c21);
        c30 = FMA(a3, b0, c30);
        c31 = FMA(a3, b1, c31);
      }
      float* c = C + (int64_t)i0 * ldc + j0;
      ST(c, c00);
      ST(c + 4, c01);
      ST(c + ldc, c10);
      ST(c + ldc + 4, c11);
      ST(c + 2 * ldc, c20);
      ST(c + 2 * ldc + 4, c21);
      ST(c + 3 * ldc, c30);
      ST(c + 3 * ldc + 4, c31);
    }
    for (; j0 < N; j0 += 4) {  // 4-wide column tail (N is a multiple of 4 here)
      f4 c0 = wasm_f32x4_const_splat(0), c1 = c0, c2 = c0, c3 = c0;
      for (int k = kStart; k < K; k++) {
        f4 b0 = LD(B + (int64_t)k * ldb + j0);
        const float* a = ta ? A + (int64_t)k * lda + i0 : A + (int64_t)i0 * lda + k;
        int st = ta ? 1 : lda;
        c0 = FMA(SPLAT(a[0]), b0, c0);
        c1 = FMA(SPLAT(a[st]), b0, c1);
        c2 = FMA(SPLAT(a[2 * st]), b0, c2);
        c3 = FMA(SPLAT(a[3 * st]), b0, c3);
      }
      float* c = C + (int64_t)i0 * ldc + j0;
      ST(c, c0);
      ST(c + ldc, c1);
      ST(c + 2 * ldc, c2);
      ST(c + 3 * ldc, c3);
    }
  }
  for (; i0 < M; i0++) {  // leftover rows
    int K = causal == MM_K_BELOW ? imin(K0, i0 + 1) : K0;
    int kStart = causal == MM_K_ABOVE ? i0 : 0;
    for (int j0 = 0; j0 < N0; j0 += 4) {
      f4 c0 = wasm_f32x4_const_splat(0);
      for (int k = kStart; k < K; k++) {
        float a = ta ? A[(int64_t)k * lda + i0] : A[(int64_t)i0 * lda + k];
        c0 = FMA(SPLAT(a), LD(B + (int64_t)k * ldb + j0), c0);
      }
      ST(C + (int64_t)i0 * ldc + j0, c0);
    }
  }
}

// Per-thread buffers for one head: rows [T][dh], transposes [dh][Tp] and
// score matrices [T][Tp] (Tp = T rounded up to 4; padding is zero).
typedef struct {
  float *q, *k, *v, *dq, *dk, *dv, *go, *kt, *vt, *p, *dp, *o;
} head_buf;

static head_buf head_buffers(const attn_args* a, int tid) {
  int T = a->T, dh = a->dh, Tp = (T + 3) & ~3;
  float* base = a->scratch + (int64_t)tid * a->scratchFloats;
  head_buf h;
  h.q = base;
  h.k = h.q + T * dh;
  h.v = h.k + T * dh;
  h.dq = h.v + T * dh;
  h.dk = h.dq + T * dh;
  h.dv = h.dk + T * dh;
  h.go = h.dv + T * dh;
  h.kt = h.go + T * dh;
  h.vt = h.kt + dh * Tp;
  h.p = h.vt + dh * Tp;
  h.dp = h.p + T * Tp;
  h.o = h.dq;  // the forward reuses dq for its output rows
  return h;
}

// Loads q (rotated, times `qscale`), k (rotated) and v of one head, plus kᵀ
// (and vᵀ when asked), zero-padded to Tp columns.
static void load_head(const attn_args* a, int b, int h, head_buf* hb, int want_vt, float qscale) {
  int T = a->T, dh = a->dh, d = a->H * dh, Tp = (T + 3) & ~3;
  for (int t = 0; t < T; t++) {
    const float* row = a->qkv + ((int64_t)b * T + t) * 3 * d + h * dh;
    rope_row(row, a->cos + t * dh, a->sin + t * dh, hb->q + t * dh, dh, a->segment);
    for (int i = 0; i < dh; i++) hb->q[t * dh + i] *= qscale;
    rope_row(row + d, a->cos + t * dh, a->sin + t * dh, hb->k + t * dh, dh, a->segment);
    for (int i = 0; i < dh; i++) hb->v[t * dh + i] = row[2 * d + i];
  }
  for (int c = 0; c < dh; c++) {
    for (int t = 0; t < Tp; t++) {
      hb->kt[c * Tp + t] = t < T ? hb->k[t * dh + c] : 0.0f;
      if (want_vt) hb->vt[c * Tp + t] = t < T ? hb->v[t * dh + c] : 0.0f;
    }
  }
}

// p[0..n) ← softmax(p[0..n)) in place, p[n..Tp) ← 0; returns the log-sum-exp.
static float softmax_inplace(float* p, int n, int Tp) {
  float m = -3.0e38f;
  for (int j = 0; j < n; j++) m = p[j] > m ? p[j] : m;
  int j = 0, n4 = n & ~3;
  f4 vm = SPLAT(m), vz = wasm_f32x4_const_splat(0);
  for (; j < n4; j += 4) {
    f4 e = exp4(SUB(LD(p + j), vm));
    ST(p + j, e);
    vz = ADD(vz, e);
  }
  float z = hsum(vz);
  for (; j < n; j++) {
    p[j] = exp1(p[j] - m);
    z += p[j];
  }
  float inv = 1.0f / z;
  f4 vinv = SPLAT(inv);
  for (j = 0; j < n4; j += 4) ST(p + j, MUL(LD(p + j), vinv));
  for (; j < n; j++) p[j] *= inv;
  for (; j < Tp; j++) p[j] = 0.0f;
  return m + log1(z);
}

// Keys query i sees: 0 … n − 1.
static inline int keys_seen(const attn_args* a, int i) {
  if (!a->mask) return a->T;
  return imin(a->T, i + 1 > a->mask ? i + 1 : a->mask);
}

static void attn_fwd_task(const attn_args* a, int tid, int nt) {
  int T = a->T, dh = a->dh, H = a->H, d = H * dh, Tp = (T + 3) & ~3;
  float scale = 1.0f / __builtin_sqrtf((float)dh);
  (void)nt;
  head_buf hb = head_buffers(a, tid);
  for (int bh = claim(); bh < a->B * H; bh = claim()) {
    int b = bh / H, h = bh % H;
    load_head(a, b, h, &hb, 0, scale);
    // Only the plain causal mask has the triangular structure the products skip by.
    int cz = a->mask == 1;
    mm_small(hb.q, dh, 0, hb.kt, Tp, hb.p, Tp, T, Tp, dh, cz ? MM_COLS : MM_DENSE);  // S = (q·scale)·kᵀ
    for (int i = 0; i < T; i++) a->lse[(int64_t)bh * T + i] = softmax_inplace(hb.p + i * Tp, keys_seen(a, i), Tp);
    mm_small(hb.p, Tp, 0, hb.v, dh, hb.o, dh, T, dh, T, cz ? MM_K_BELOW : MM_DENSE);  // O = P·V
    for (int t = 0; t < T; t++) {
      float* dst = a->out + ((int64_t)b * T + t) * d + h * dh;
      for (int c = 0; c < dh; c++) dst[c] = hb.o[t * dh + c];
    }
  }
}

typedef struct {
  attn_args f;
  const float* dout;  // [B, T, d]
  float* dqkv;        // [B, T, 3d]
} attn_bwd_args;

static void attn_bwd_task(const attn_bwd_args* g, int tid, int nt) {
  const attn_args* a = &g->f;
  int T = a->T, dh = a->dh, H = a->H, d = H * dh, Tp = (T + 3) & ~3;
  float scale = 1.0f / __builtin_sqrtf((float)dh);
  (void)nt;
  head_buf hb = head_buffers(a, tid);
  for (int bh = claim(); bh < a->B * H; bh = claim()) {
    int b = bh / H, h = bh % H;
    load_head(a, b, h, &hb, 1, 1.0f);
    for (int t = 0; t < T; t++) {
      const float* src = g->dout + ((int64_t)b * T + t) * d + h * dh;
      for (int c = 0; c < dh; c++) hb.go[t * dh + c] = src[c];
    }
    int cz = a->mask == 1;
    mm_small(hb.q, dh, 0, hb.kt, Tp, hb.p, Tp, T, Tp, dh, cz ? MM_COLS : MM_DENSE);    // S·√dh
    mm_small(hb.go, dh, 0, hb.vt, Tp, hb.dp, Tp, T, Tp, dh, cz ? MM_COLS : MM_DENSE);  // dP = dO·vᵀ
    for (int i = 0; i < T; i++) {
      int n = keys_seen(a, i);
      int lim = cz ? imin(Tp, (i & ~3) + 4) : Tp;  // columns the products above computed
      float* p = hb.p + i * Tp;
      float* dp = hb.dp + i * Tp;
      f4 lse = SPLAT(a->lse[(int64_t)bh * T + i]), vs = SPLAT(scale), vD = wasm_f32x4_const_splat(0);
      for (int j = 0; j < lim; j += 4) {
        f4 pj = exp4(SUB(MUL(LD(p + j), vs), lse));
        ST(p + j, pj);
      }
      for (int j = n; j < Tp; j++) p[j] = 0.0f;  // masked keys and padding
      for (int j = lim; j < Tp; j++) dp[j] = 0.0f;
      for (int j = 0; j < lim; j += 4) vD = FMA(LD(p + j), LD(dp + j), vD);
      f4 D = SPLAT(hsum(vD));
      for (int j = 0; j < lim; j += 4) ST(dp + j, MUL(MUL(LD(p + j), SUB(LD(dp + j), D)), vs));  // dS
    }
    mm_small(hb.p, Tp, 1, hb.go, dh, hb.dv, dh, T, dh, T, cz ? MM_K_ABOVE : MM_DENSE);  // dV = Pᵀ·dO
    mm_small(hb.dp, Tp, 0, hb.k, dh, hb.dq, dh, T, dh, T, cz ? MM_K_BELOW : MM_DENSE);  // dQ = dS·K
    mm_small(hb.dp, Tp, 1, hb.q, dh, hb.dk, dh, T, dh, T, cz ? MM_K_ABOVE : MM_DENSE);  // dK = dSᵀ·Q
    for (int t = 0; t < T; t++) {
      float* dst = g->dqkv + ((int64_t)b * T + t) * 3 * d + h * dh;
      rope_row_adjoint(hb.dq + t * dh, a->cos + t * dh, a->sin + t * dh, dst, dh, a->segment);
      rope_row_adjoint(hb.dk + t * dh, a->cos + t * dh, a->sin + t * dh, dst + d, dh, a->segment);
      for (int c = 0; c < dh; c++) dst[2 * d + c] = hb.dv[t * dh + c];
    }
  }
}

// ---------------------------------------------------------------------------
// AdamW over many tensors at once. For tensor i (n_i values):
//   m = β1 m + (1−β1) g;  v = β2 v + (1−β2) g²;
//   p = p·(1 − lr_i·wd_i) − lr_i · (m/bc1) / (√(v/bc2) + ε),  lr_i = lr·scale_i
// Tensors are concatenated virtually; each thread takes an even share of all
// values.

typedef struct {
  const int32_t* tensors;  // [count][8]: p, g, m, v, p', m', v', n (pointers as i32)
  const float* decay;      // [count]: weight decay factor per tensor (0 or wd)
  const float* lrScale;    // [count]: learning-rate multiplier per tensor (layer-wise decay)
  int32_t count, total;
  float lr, beta1, beta2, eps, bc1, bc2, gradScale;
} adamw_args;

static void adamw_task(const adamw_args* a, int tid, int nt) {
  int lo, hi;
  share(a->total, tid, nt, &lo, &hi);
  const f4 b1 = SPLAT(a->beta1), b2 = SPLAT(a->beta2), ob1 = SPLAT(1.0f - a->beta1), ob2 = SPLAT(1.0f - a->beta2);
  const f4 ibc1 = SPLAT(1.0f / a->bc1), ibc2 = SPLAT(1.0f / a->bc2), eps = SPLAT(a->eps);
  const f4 gs = SPLAT(a->gradScale);
  int base = 0;
  for (int t = 0; t < a->count && base < hi; t++) {
    const int32_t* d = a->tensors + t * 8;
    int n = d[7];
    int s = imax(lo, base) - base, e = imin(hi, base + n) - base;
    base += n;
    if (s >= e) continue;
    const float *p = (const float*)(intptr_t)d[0], *g = (const float*)(intptr_t)d[1];
    const float *m = (const float*)(intptr_t)d[2], *v = (const float*)(intptr_t)d[3];
    float *po = (float*)(intptr_t)d[4], *mo = (float*)(intptr_t)d[5], *vo = (float*)(intptr_t)d[6];
    float lrt = a->lr * a->lrScale[t];
    float keep = 1.0f - lrt * a->decay[t];
    f4 vk = SPLAT(keep), lr = SPLAT(lrt);
    int i = s;
    for (; i < s + ((e - s) & ~3); i += 4) {
      f4 gi = MUL(LD(g + i), gs);
      f4 mi = FMA(b1, LD(m + i), MUL(ob1, gi));
      f4 vi = FMA(b2, LD(v + i), MUL(MUL(ob2, gi), gi));
      f4 upd = DIV(MUL(mi, ibc1), ADD(wasm_f32x4_sqrt(MUL(vi, ibc2)), eps));
      ST(po + i, SUB(MUL(LD(p + i), vk), MUL(lr, upd)));
      ST(mo + i, mi);
      ST(vo + i, vi);
    }
    for (; i < e; i++) {
      float gi = g[i] * a->gradScale;
      float mi = a->beta1 * m[i] + (1.0f - a->beta1) * gi;
      float vi = a->beta2 * v[i] + (1.0f - a->beta2) * gi * gi;
      po[i] = p[i] * keep - lrt * (mi / a->bc1) / (__builtin_sqrtf(vi / a->bc2) + a->eps);
      mo[i] = mi;
      vo[i] = vi;
    }
  }
}

// Σ g² over many tensors: per-thread partial sums (in double for stability).
typedef struct {
  const int32_t* tensors;  // [count][2]: pointer, n
  double* partial;         // [nt]
  int32_t count, total;
} sumsq_args;

static void sumsq_task(const sumsq_args* a, int tid, int nt) {
  int lo, hi;
  share(a->total, tid, nt, &lo, &hi);
  double acc = 0.0;
  int base = 0;
  for (int t = 0; t < a->count && base < hi; t++) {
    const float* g = (const float*)(intptr_t)a->tensors[t * 2];
    int n = a->tensors[t * 2 + 1];
    int s = imax(lo, base) - base, e = imin(hi, base + n) - base;
    base += n;
    if (s >= e) continue;
    f4 q = wasm_f32x4_const_splat(0);
    int i = s;
    for (; i < s + ((e - s) & ~3); i += 4) {
      f4 x = LD(g + i);
      q = FMA(x, x, q);
    }
    double part = hsum(q);
    for (; i < e; i++) part += (double)g[i] * g[i];
    acc += part;
  }
  a->partial[tid] = acc;
}

// ---------------------------------------------------------------------------
// Element-wise binary ops on equal shapes: 0 add, 1 sub, 2 mul.

typedef struct {
  const float* a;
  const float* b;
  float* y;
  int32_t n, op;
} binary_args;

static void binary_task(const binary_args* a, int tid, int nt) {
  int lo, hi;
  share(a->n / 4, tid, nt, &lo, &hi);
  lo *= 4;
  hi = tid == nt - 1 ? a->n : hi * 4;
  int i = lo, e4 = lo + ((hi - lo) & ~3);
  switch (a->op) {
    case 0:
      for (; i < e4; i += 4) ST(a->y + i, ADD(LD(a->a + i), LD(a->b + i)));
      for (; i < hi; i++) a->y[i] = a->a[i] + a->b[i];
      break;
    case 1:
      for (; i < e4; i += 4) ST(a->y + i, SUB(LD(a->a + i), LD(a->b + i)));
      for (; i < hi; i++) a->y[i] = a->a[i] - a->b[i];
      break;
    default:
      for (; i < e4; i += 4) ST(a->y + i, MUL(LD(a->a + i), LD(a->b + i)));
      for (; i < hi; i++) a->y[i] = a->a[i] * a->b[i];
  }
}

// ---------------------------------------------------------------------------
// The multiply-add ceiling these kernels run under: `iters` rounds of 12
// independent 4-lane FMA chains per thread (enough to cover Zen 2's 5-cycle
// latency on two pipes), no memory traffic. out[tid] = the sum of the chains'
// lanes, x_{n+1} = x_n·m + c from x_0 = 1, so the work cannot be elided.

typedef struct {
  int32_t iters;
  float m, c;
  float* out;  // [nt]
} fma_peak_args;

static void fma_peak_task(const fma_peak_args* a, int tid, int nt) {
  (void)nt;
  f4 x0 = SPLAT(1.0f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0, x7 = x0, x8 = x0, x9 = x0, x10 = x0,
     x11 = x0;
  const f4 m = SPLAT(a->m), c = SPLAT(a->c);
  for (int i = 0; i < a->iters; i++) {
    x0 = FMA(x0, m, c), x1 = FMA(x1, m, c), x2 = FMA(x2, m, c), x3 = FMA(x3, m, c);
    x4 = FMA(x4, m, c), x5 = FMA(x5, m, c), x6 = FMA(x6, m, c), x7 = FMA(x7, m, c);
    x8 = FMA(x8, m, c), x9 = FMA(x9, m, c), x10 = FMA(x10, m, c), x11 = FMA(x11, m, c);
  }
  f4 s = ADD(ADD(ADD(x0, x1), ADD(x2, x3)), ADD(ADD(x4, x5), ADD(x6, x7)));
  a->out[tid] = hsum(ADD(s, ADD(ADD(x8, x9), ADD(x10, x11))));
}

// ---------------------------------------------------------------------------
// Task dispatch: every thread enters here with the same (fn, args).

enum {
  FN_GEMM = 1,
  FN_LN_FWD,
  FN_LN_BWD,
  FN_REDUCE,
  FN_COLSUM,
  FN_ROWSUM,
  FN_BIAS_GELU_FWD,
  FN_BIAS_GELU_BWD,
  FN_ATTN_FWD,
  FN_ATTN_BWD,
  FN_ADAMW,
  FN_SUMSQ,
  FN_BINARY,
  FN_GEMM_PACK_B,
  FN_FMA_PEAK
};

EXPORT(run_task) void run_task(int fn, const void* args, int tid, int nt) {
  switch (fn) {
    case FN_GEMM: gemm_task((const gemm_args*)args, tid, nt); break;
    case FN_LN_FWD: ln_fwd_task((const ln_fwd_args*)args, tid, nt); break;
    case FN_LN_BWD: ln_bwd_task((const ln_bwd_args*)args, tid, nt); break;
    case FN_REDUCE: reduce_task((const reduce_args*)args, tid, nt); break;
    case FN_COLSUM: colsum_task((const colsum_args*)args, tid, nt); break;
    case FN_ROWSUM: rowsum_task((const rowsum_args*)args, tid, nt); break;
    case FN_BIAS_GELU_FWD: bias_gelu_fwd_task((const bias_gelu_args*)args, tid, nt); break;
    case FN_BIAS_GELU_BWD: bias_gelu_bwd_task((const bias_gelu_bwd_args*)args, tid, nt); break;
    case FN_ATTN_FWD: attn_fwd_task((const attn_args*)args, tid, nt); break;
    case FN_ATTN_BWD: attn_bwd_task((const attn_bwd_args*)args, tid, nt); break;
    case FN_ADAMW: adamw_task((const adamw_args*)args, tid, nt); break;
    case FN_SUMSQ: sumsq_task((const sumsq_args*)args, tid, nt); break;
    case FN_BINARY: binary_task((const binary_args*)args, tid, nt); break;
    case FN_GEMM_PACK_B: gemm_pack_b_task((const gemm_args*)args, tid, nt); break;
    case FN_FMA_PEAK: fma_peak_task((const fma_peak_args*)args, tid, nt); break;
    default: __builtin_trap();
  }
}

// Worker threads park here: wait for a new generation, run the task, count
// themselves done. ctl: [0] generation, [1] fn, [2] args pointer, [3] done,
// [4] number of threads, [5] stop. `seen` is the generation the worker read
// before it reported ready: read here instead, a task published between the
// report and this call would count as already seen, and the host would wait
// for it forever.
EXPORT(worker_loop) void worker_loop(int32_t* ctl, int tid, int32_t seen) {
  for (;;) {
    int32_t gen;
    int spins = 0;
    while ((gen = __atomic_load_n(&ctl[0], __ATOMIC_SEQ_CST)) == seen) {
      if (++spins > 2000) __builtin_wasm_memory_atomic_wait32(&ctl[0], seen, -1);
    }
    seen = gen;
    if (__atomic_load_n(&ctl[5], __ATOMIC_SEQ_CST)) return;
    run_task(ctl[1], (const void*)(intptr_t)ctl[2], tid, ctl[4]);
    __atomic_fetch_add(&ctl[3], 1, __ATOMIC_SEQ_CST);
    __builtin_wasm_memory_atomic_notify(&ctl[3], 1);
  }
}

// Sizes the JS side needs.
EXPORT(gemm_scratch_floats) int gemm_scratch_floats(void) { return SCRATCH_FLOATS; }
EXPORT(gemm_packed_b_floats) int gemm_packed_b_floats(int N, int K, int items) {
  return items * gemm_kblocks(K) * gemm_panels(N) * KC * NR;
}
EXPORT(struct_sizes) int struct_sizes(int which) {
  switch (which) {
    case FN_GEMM: return sizeof(gemm_args);
    case FN_ATTN_FWD: return sizeof(attn_args);
    case FN_ATTN_BWD: return sizeof(attn_bwd_args);
    default: return 0;
  }
}
