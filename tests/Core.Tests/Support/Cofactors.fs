namespace Functional.Tests

/// The cofactor matrix by its definition, for det's gradient: each entry a signed minor.
module Cofactors =

    /// A (n×n, row-major) without row i and column j.
    let without (a: double[]) (n: int) (i: int) (j: int) =
        [| for r in 0 .. n - 1 do if r <> i then for c in 0 .. n - 1 do if c <> j then yield a.[r * n + c] |]

    /// (−1)^(i+j)·det(A without row i and column j) for every i, j, with `det` of an (n − 1)×(n − 1) matrix.
    let signedMinors (det: double[] -> int -> double) (a: double[]) (n: int) =
        Array.init (n * n) (fun e ->
            let i, j = e / n, e % n
            (if (i + j) % 2 = 0 then 1.0 else -1.0) * det (without a n i j) (n - 1))
