#!/usr/bin/env python3
"""Fits the Mills-ratio rationals of the AVX-512 GELU path (src/Core.FSharp/Lanes/GeluVector.fs).

R(t) = Φ(−t)/φ(t) = sqrt(π/2)·exp(t²/2)·erfc(t/√2). On each octave [2^e, 2^(e+1)), e = −1 … 5, with
v = 2·mantissa(t) − 3 in [−1, 1), a degree-5/5 rational P(v)/Q(v) (Q(0) = 1) is fitted by weighted linear least
squares on Chebyshev nodes, reweighted by 1/|Q| a few times (Loeb's iteration), in 40-digit arithmetic:
  below 2:   R = A + P/Q, A = R(1.5·2^e) rounded to a double (R − t then keeps its accuracy near GELU's root);
  from 2 on: R = 1/(t + P/Q), i.e. P/Q fits 1/R − t (its error reaches R damped by about 1/t²).
The weights make the error relative to R. The script prints each octave's worst relative error of R with the
coefficients rounded to doubles (exact arithmetic otherwise) and the F# rows to paste.
Requires mpmath (pip install mpmath).
"""
import mpmath as mp

mp.mp.dps = 40
OCTAVES = [(0.5, 1), (1, 2), (2, 4), (4, 8), (8, 16), (16, 32), (32, 64)]


def mills(t):
    t = mp.mpf(t)
    return mp.sqrt(mp.pi / 2) * mp.exp(t * t / 2) * mp.erfc(t / mp.sqrt(2))


def fit(a, corr, m=5, n=5, nodes=200, iterations=8):
    c, h = mp.mpf(1.5) * a, mp.mpf(a) / 2
    A = mp.mpf(float(mills(c))) if corr else mp.mpf(0)
    vs = [mp.cos(mp.pi * (k + mp.mpf(0.5)) / nodes) for k in range(nodes)]
    ts = [c + h * v for v in vs]
    rs = [mills(t) for t in ts]
    ys = [r - A if corr else 1 / r - t for r, t in zip(rs, ts)]
    # Relative error in R: corr form d(R) = d(y); reciprocal form dR/R = −dy/(t + y).
    scale = [r if corr else t + y for r, t, y in zip(rs, ts, ys)]
    qprev = [mp.mpf(1)] * nodes
    for _ in range(iterations):
        rows, rhs = [], []
        for v, y, s, qp in zip(vs, ys, scale, qprev):
            w = 1 / (s * abs(qp))
            rows.append([w * v**i for i in range(m + 1)] + [-w * y * v**j for j in range(1, n + 1)])
            rhs.append(w * y)
        x, _ = mp.qr_solve(mp.matrix(rows), mp.matrix(rhs))
        p = [x[i] for i in range(m + 1)]
        q = [mp.mpf(1)] + [x[m + j] for j in range(1, n + 1)]
        qprev = [mp.polyval(q[::-1], v) for v in vs]
    return A, [float(z) for z in p], [float(z) for z in q]


def worst(a, corr, A, p, q, points=300):
    worst = mp.mpf(0)
    for k in range(points + 1):
        v = mp.mpf(-1) + 2 * mp.mpf(k) / points
        t = mp.mpf(1.5) * a + mp.mpf(a) / 2 * v
        g = mp.polyval([mp.mpf(z) for z in p[::-1]], v) / mp.polyval([mp.mpf(z) for z in q[::-1]], v)
        r = A + g if corr else 1 / (t + g)
        worst = max(worst, abs(r / mills(t) - 1))
    return worst


if __name__ == "__main__":
    ps, qs, As = [], [], []
    for a, b in OCTAVES:
        corr = b <= 2
        A, p, q = fit(a, corr)
        print(f"# [{a}, {b}) {'A + P/Q' if corr else '1/(t + P/Q)'}: worst relative error {mp.nstr(worst(a, corr, A, p, q), 3)}")
        ps.append(p)
        qs.append(q)
        if corr:
            As.append(float(A))
    for name, table in (("p", ps), ("q", qs)):
        print(name)
        for row in table:
            print("            [| " + "; ".join(repr(z) for z in row) + " |]")
    print("a = [| " + "; ".join(repr(z) for z in As) + " |]")
