namespace Functional.Tests

open System
open Xunit
open Functional.Core

/// Copies, clears and sums from +0 written around the caches (`Functional.Kernels.Streams`), and the layout ops whose
/// plain results use them (pad, concat, indexSelect, indexAdd, embed, permute, and the first adjoint of a slice, a
/// row or gathered rows): every element from every alignment, the same bits as through the caches and as a reference
/// loop.
[<Collection("process-wide state")>]
module StreamsTests =

    let private bits (a: double[]) = a |> Array.map BitConverter.DoubleToInt64Bits

    let private lengths = [ 0; 1; 3; 7; 8; 9; 15; 16; 17; 31; 63; 64; 65; 100; 1000; 1003 ]

    [<Fact>]
    let ``copies, clears and sums from +0 write exactly their range from any alignment`` () =
        let sentinel = -7.25
        for offset in 0 .. 9 do
            for n in lengths do
                let src = Array.init (n + 12) (fun i -> if i % 5 = 0 then -0.0 elif i % 7 = 0 then nan else float i * 0.5 - 3.0)
                let run name (write: double[] -> unit) (expected: int -> double) =
                    let dst = Array.create (n + 20) sentinel
                    write dst
                    let want = Array.init dst.Length (fun i -> if i >= offset && i < offset + n then expected (i - offset) else sentinel)
                    Assert.True((bits dst = bits want), sprintf "%s of %d elements at offset %d" name n offset)
                run "copy" (fun d -> Functional.Kernels.Streams.Copy(src, 3, d, offset, n)) (fun i -> src.[3 + i])
                run "sum from +0" (fun d -> Functional.Kernels.Streams.AddZero(src, 3, d, offset, n)) (fun i -> src.[3 + i] + 0.0)
                run "clear" (fun d -> Functional.Kernels.Streams.Clear(d, offset, n)) (fun _ -> 0.0)
                Functional.Kernels.Streams.Fence()

    [<Fact>]
    let ``strided copies around the caches write what copies through them write, from every line offset`` () =
        let sentinel = -7.25
        // (shape of the result, the source's strides over it): transposes (rows of 200 and 640 elements, the second
        // split over the cores), a permute that keeps its rows, and a transpose whose rows are not whole lines.
        let cases =
            [ [| 136; 200 |], [| 1; 136 |]
              [| 520; 640 |], [| 1; 520 |]
              [| 64; 3; 1001 |], [| 1001; 64 * 1001; 1 |]
              [| 130; 99 |], [| 1; 130 |] ]
        for shape, srcStrides in cases do
            let count = Array.fold (*) 1 shape
            let src = Array.init count (fun i -> if i % 11 = 0 then -0.0 else float i * 0.25 - 9.0)
            let dstStrides = Array.init shape.Length (fun d -> Array.fold (*) 1 shape.[d + 1 ..])
            for offset in 0 .. 8 do
                let write stream =
                    let dst = Array.create (count + 16) sentinel
                    Functional.Kernels.Permute.Copy(src, 0, srcStrides, dst, offset, dstStrides, shape, stream)
                    dst
                Assert.True((bits (write true) = bits (write false)), sprintf "shape %A, the result at offset %d" shape offset)

    [<Fact>]
    let ``ranges outside the arrays are refused`` () =
        let a = Array.zeroCreate<double> 10
        Assert.Throws<ArgumentOutOfRangeException>(fun () -> Functional.Kernels.Streams.Copy(a, 5, a, 0, 6)) |> ignore
        Assert.Throws<ArgumentOutOfRangeException>(fun () -> Functional.Kernels.Streams.AddZero(a, 0, a, -1, 2)) |> ignore
        Assert.Throws<ArgumentOutOfRangeException>(fun () -> Functional.Kernels.Streams.Clear(a, 8, 3)) |> ignore

    /// Every layout op whose plain result may go around the caches, on rows of odd widths (each row starting at
    /// another alignment), with −0, NaN and repeated indices among the inputs.
    let private results () : (string * double[]) list =
        let value seed (shape: int[]) =
            let t = Tensor.random seed shape
            let a = t.ToArray()
            for i in 0 .. 13 .. a.Length - 1 do a.[i] <- -0.0
            for i in 5 .. 101 .. a.Length - 1 do a.[i] <- nan
            Value.constant (Tensor.create shape a)
        let x = value 1 [| 37; 1003 |]
        let y = value 2 [| 37; 501 |]
        let rows = [| 3; 0; 36; 3; 17; 3 |]
        let read (v: Value) = v.Tensor.ToArray()
        let firstAdjoint (f: Value -> Value) (at: Value) (seed: Value) =
            let _, pullback = Autodiff.vjp f at
            read (pullback seed)
        [ "pad along columns", read (Indexing.pad 1 100 1200 x)
          "pad along rows", read (Indexing.pad 0 5 45 x)
          "pad of a slice (a view)", read (Indexing.pad 1 3 700 (Indexing.narrow 1 1 501 x))
          "concat along columns", read (Indexing.concat 1 [| x; y; x |])
          "concat along rows", read (Indexing.concat 0 [| x; x |])
          "concat of slices (views)", read (Indexing.concat 1 [| Indexing.narrow 1 2 500 x; y |])
          "indexSelect of rows", read (Indexing.indexSelect 0 rows x)
          "indexSelect of columns", read (Indexing.indexSelect 1 [| 1002; 0; 7; 7 |] x)
          "indexAdd of rows", read (Indexing.indexAdd 0 [| 1; 1; 0; 5; 4; 1 |] 9 (Indexing.indexSelect 0 rows x))
          "embed", read (Layout.embed 4 9 (Layout.select 2 x))
          "a slice's first adjoint", firstAdjoint (Indexing.narrow 1 250 501) x y
          "two slices' adjoints", firstAdjoint (fun v -> Indexing.concat 1 [| Indexing.narrow 1 0 500 v; Indexing.narrow 1 500 503 v |]) x x
          "a row's first adjoint", firstAdjoint (Layout.select 5) x (Layout.select 1 x)
          "gathered rows' first adjoint", firstAdjoint (Indexing.indexSelect 0 rows) x (Indexing.indexSelect 0 rows x)
          // Transposed planes in 8×8 blocks from a line boundary (rows of 200 and 640), split over the cores for the
          // second; runs kept whole for the third.
          "transpose 136×200", (Tensor.permute [| 1; 0 |] (value 3 [| 200; 136 |]).Tensor).ToArray()
          "transpose 520×640", (Tensor.permute [| 1; 0 |] (value 4 [| 640; 520 |]).Tensor).ToArray()
          "permute keeping rows", (Tensor.permute [| 1; 0; 2 |] (value 5 [| 3; 64; 1001 |]).Tensor).ToArray() ]

    /// The same ops by loops over the definitions.
    let private reference () : (string * double[]) list =
        let value seed (shape: int[]) =
            let a = (Tensor.random seed shape).ToArray()
            for i in 0 .. 13 .. a.Length - 1 do a.[i] <- -0.0
            for i in 5 .. 101 .. a.Length - 1 do a.[i] <- nan
            a
        let x = value 1 [| 37; 1003 |]
        let y = value 2 [| 37; 501 |]
        let rows = [| 3; 0; 36; 3; 17; 3 |]
        let at (a: double[]) width r c = a.[r * width + c]
        let make r c (f: int -> int -> double) = Array.init (r * c) (fun i -> f (i / c) (i % c))
        let padCols (a: double[]) r w start size = make r size (fun i j -> if j >= start && j < start + w then at a w i (j - start) else 0.0)
        let sliceCols (a: double[]) r w start len = make r len (fun i j -> at a w i (start + j))
        let gathered = make rows.Length 1003 (fun k j -> at x 1003 rows.[k] j)
        let addRows (src: double[]) (idx: int[]) size width =
            make size width (fun t j ->
                let mutable s = 0.0
                for k in 0 .. idx.Length - 1 do if idx.[k] = t then s <- s + src.[k * width + j]
                s)
        [ "pad along columns", padCols x 37 1003 100 1200
          "pad along rows", make 45 1003 (fun i j -> if i >= 5 && i < 42 then at x 1003 (i - 5) j else 0.0)
          "pad of a slice (a view)", padCols (sliceCols x 37 1003 1 501) 37 501 3 700
          "concat along columns", make 37 2507 (fun i j -> if j < 1003 then at x 1003 i j elif j < 1504 then at y 501 i (j - 1003) else at x 1003 i (j - 1504))
          "concat along rows", Array.append x x
          "concat of slices (views)", make 37 1001 (fun i j -> if j < 500 then at x 1003 i (j + 2) else at y 501 i (j - 500))
          "indexSelect of rows", gathered
          "indexSelect of columns", make 37 4 (fun i k -> at x 1003 i [| 1002; 0; 7; 7 |].[k])
          "indexAdd of rows", addRows gathered [| 1; 1; 0; 5; 4; 1 |] 9 1003
          "embed", make 9 1003 (fun i j -> if i = 4 then at x 1003 2 j else 0.0)
          "a slice's first adjoint", padCols y 37 501 250 1003
          "two slices' adjoints", x
          "a row's first adjoint", make 37 1003 (fun i j -> if i = 5 then at x 1003 1 j else 0.0)
          "gathered rows' first adjoint", addRows gathered rows 37 1003
          "transpose 136×200", (let a = value 3 [| 200; 136 |] in make 136 200 (fun i j -> at a 136 j i))
          "transpose 520×640", (let a = value 4 [| 640; 520 |] in make 520 640 (fun i j -> at a 520 j i))
          "permute keeping rows", (let a = value 5 [| 3; 64; 1001 |] in Array.init (64 * 3 * 1001) (fun f -> let i, k, j = f / 3003, (f / 1001) % 3, f % 1001 in a.[(k * 64 + i) * 1001 + j])) ]

    [<Fact>]
    let ``layout ops' plain results written around the caches give the reference's bits`` () =
        // Every plain result of these ops streamed, whatever its size and row length.
        TuningSwitches.withEveryResultStreamed (fun () ->
            let want = reference ()
            let compare (how: string) (got: (string * double[]) list) =
                for (name, g), (_, w) in List.zip got want do
                    // Sums from +0 make −0 +0 where an index or a later adjoint adds: compared by value there, by
                    // bits elsewhere.
                    let same = if name.Contains "indexAdd" || name.Contains "gathered" || name.Contains "two slices" then g.Length = w.Length && Array.forall2 (fun a b -> a = b || (Double.IsNaN a && Double.IsNaN b)) g w else bits g = bits w
                    Assert.True(same, sprintf "%s, %s" name how)
            for plainStreams in [ true; false ] do
                Functional.Kernels.Tuning.StreamPlainResults <- plainStreams
                compare (sprintf "plain, streamed %b" plainStreams) (results ())
                let scoped =
                    use _ = Tensor.scope ()
                    results ()
                compare (sprintf "in a scope, plain results streamed %b" plainStreams) scoped)
