namespace Functional.Tests

open Xunit
open FsCheck
open FsCheck.FSharp
open Functional
open Functional.Core
open Functional.Testing

/// The planned, GEMM-lowered engine against the element-by-element reference.
module EinsumEngineTests =

    [<Fact>]
    let ``the engine equals the unoptimised reference on random equations and their gradient contractions`` () =
        Check.forAll "engine vs reference" 11UL 500 (EinsumGen.arb 4) (fun c ->
            let b = Einsum.bind c.Equation c.Shapes
            let sq = c.Tensors |> Array.mapi (fun k x -> Tensor.reshape b.SqueezedShapes.[k] x)
            let check (con: Contraction) (xs: Tensor[]) =
                let fast = Engine.contract con xs
                let slow = EinsumReference.contract con xs
                if not (Tensor.allClose 1e-12 1e-12 fast slow) then
                    Check.failf "%s differs from the reference by %g for %O" (Contraction.show con) (Tensor.maxAbsDiff fast slow) c
            check b.Contraction sq
            // The extended forms (diagonal writes, broadcasts) that gradients produce.
            let g = Tensor.random (c.Seed + 3) b.OutputShape
            for k in 0 .. sq.Length - 1 do
                check (Contraction.gradient b.Contraction k) (Array.append [| g |] (Array.removeAt k sq)))
        |> ignore

    /// Runs Engine.decompose's steps one by one, as Linear.einsum does under a transform.
    let runSteps (c: Contraction) (xs: Tensor[]) =
        let prepared, steps = Engine.decompose c
        let mutable current = xs |> Array.mapi (fun k x -> match prepared.[k] with Some p -> Engine.contract p [| x |] | None -> x)
        for left, right, step in steps do
            let r = Engine.contract step [| current.[left]; current.[right] |]
            current <- Array.append (current |> Array.indexed |> Array.filter (fun (k, _) -> k <> left && k <> right) |> Array.map snd) [| r |]
        current.[0]

    [<Fact>]
    let ``the decomposed steps, run one by one, give the engine's values bit for bit`` () =
        let mutable multi = 0
        Check.forAll "decompose vs contract" 23UL 500 (EinsumGen.arb 4) (fun c ->
            let b = Einsum.bind c.Equation c.Shapes
            let sq = c.Tensors |> Array.mapi (fun k x -> Tensor.reshape b.SqueezedShapes.[k] x)
            let whole = Engine.contract b.Contraction sq
            let _, steps = Engine.decompose b.Contraction
            if sq.Length >= 3 then
                multi <- multi + 1
                if steps.Length <> sq.Length - 1 then Check.failf "%d operands but %d steps for %O" sq.Length steps.Length c
            let stepped = if sq.Length = 1 then whole else runSteps b.Contraction sq
            if stepped.Shape <> whole.Shape || stepped.ToArray() <> whole.ToArray() then
                Check.failf "steps differ from the whole contraction by %g for %O" (Tensor.maxAbsDiff stepped whole) c)
        |> ignore
        Assert.True(multi >= 50, sprintf "only %d cases with three or more operands" multi)

    type PermutedCase = { Equation: string; Shapes: int[][]; Seed: int }

    /// The characters of `labels` in a random order.
    let private shuffle (labels: string) = gen {
        let! keys = Gen.arrayOfLength labels.Length (Gen.choose (0, 1000))
        return System.String(labels.ToCharArray() |> Array.zip keys |> Array.sortBy fst |> Array.map snd) }

    /// Batched products whose operands and output hold their labels in any order: batch labels b and h,
    /// rows q, contracted d (and sometimes e), columns k, with sizes that reach the packed kernel, which then
    /// reads operands with batch labels inside them where they are (strided views) instead of copying them.
    let permutedArb =
        Arb.fromGen (gen {
            let! twoContracted = Gen.elements [ false; true ]
            let sizeOf = dict [ 'b', 2; 'h', 3; 'q', 9; 'd', 6; 'e', 2; 'k', 17 ]
            let! sizes = Gen.arrayOfLength 6 (Gen.choose (0, 3))
            let size (c: char) = sizeOf.[c] + sizes.["bhqdek".IndexOf c]
            let contracted = if twoContracted then "de" else "d"
            let! a = shuffle ("bhq" + contracted)
            let! b = shuffle ("bhk" + contracted)
            let! o = shuffle "bhqk"
            let! seed = Gen.choose (0, 100000)
            let shape (t: string) = t.ToCharArray() |> Array.map size
            return { Equation = sprintf "%s,%s->%s" a b o; Shapes = [| shape a; shape b |]; Seed = seed } })

    /// A two-operand contraction and both its gradient contractions (permuted batched products too) against
    /// the reference.
    let private pairAndGradients (c: PermutedCase) =
        let xs = c.Shapes |> Array.mapi (fun k s -> Tensor.random (c.Seed + k) s)
        let b = Einsum.bind c.Equation c.Shapes
        let check (con: Contraction) (operands: Tensor[]) =
            let fast = Engine.contract con operands
            let slow = EinsumReference.contract con operands
            if not (Tensor.allClose 1e-12 1e-12 fast slow) then
                Check.failf "%s (from %s with shapes %A) differs from the reference by %g" (Contraction.show con) c.Equation c.Shapes (Tensor.maxAbsDiff fast slow)
        check b.Contraction xs
        let g = Tensor.random (c.Seed + 5) b.OutputShape
        for k in 0 .. 1 do
            check (Contraction.gradient b.Contraction k) [| g; xs.[1 - k] |]

    [<Fact>]
    let ``permuted batched products (strided operands) equal the reference`` () =
        Check.forAll "permuted batched products vs reference" 17UL 200 permutedArb pairAndGradients |> ignore

    /// Thin batched products (one row, one column, an outer product, a broadcast scale such as bqhd,bhqk->bqhk)
    /// in any layout: too small or thin for the packed kernel, so the simple kernel reads the operands with batch
    /// labels inside them where they are.
    let thinArb =
        Arb.fromGen (gen {
            let! sizes = Gen.arrayOfLength 5 (Gen.choose (1, 4))
            let! cols = Gen.choose (1, 21)
            let size (c: char) = if c = 'k' then cols else sizes.["bhqdk".IndexOf c]
            let! q = Gen.elements [ ""; "q" ]
            let! d = Gen.elements [ ""; "d" ]
            let! k = Gen.elements [ ""; "k" ]
            let! e = Gen.elements [ ""; "e" ]
            // e: a label summed inside A alone (A is reduced first, then read in place or copied).
            let! a = shuffle ("bh" + q + d + e)
            let! b = shuffle ("bh" + d + k)
            let! o = shuffle ("bh" + q + k)
            let! seed = Gen.choose (0, 100000)
            let shape (t: string) = t.ToCharArray() |> Array.map (fun c -> if c = 'e' then 3 else size c)
            return { Equation = sprintf "%s,%s->%s" a b o; Shapes = [| shape a; shape b |]; Seed = seed } })

    [<Fact>]
    let ``thin permuted batched products (simple kernel on strided operands) equal the reference`` () =
        Check.forAll "thin permuted batched products vs reference" 29UL 400 thinArb pairAndGradients |> ignore

    /// Products without a contracted label (broadcast and outer products: bi,i->bi, bhqk,bh->bhqk, i,j->ij) in
    /// any layout, sometimes with a third operand: every element is one product, written in the output's order.
    let broadcastArb =
        Arb.fromGen (gen {
            let labels = "abcd"
            let! sizes = Gen.arrayOfLength 4 (Gen.elements [ 1; 2; 3; 5; 9; 17 ])
            let subset = gen {
                let! pick = Gen.arrayOfLength 4 (Gen.elements [ false; true ])
                return System.String([| for i in 0 .. 3 do if pick.[i] then yield labels.[i] |]) }
            let! three = Gen.elements [ false; false; true ]
            let! ops = Gen.listOfLength (if three then 3 else 2) subset
            let! ops = ops |> List.map shuffle |> Gen.sequenceToList
            let union = ops |> String.concat "" |> Seq.distinct |> Seq.sort |> Seq.toArray |> System.String
            let! o = shuffle union
            let! seed = Gen.choose (0, 100000)
            let shape (t: string) = t.ToCharArray() |> Array.map (fun c -> sizes.[labels.IndexOf c])
            return { Equation = sprintf "%s->%s" (String.concat "," ops) o; Shapes = ops |> List.map shape |> Array.ofList; Seed = seed } })

    [<Fact>]
    let ``broadcast and outer products in any layout equal the reference bit for bit`` () =
        Check.forAll "broadcast products vs reference" 31UL 400 broadcastArb (fun c ->
            let xs = c.Shapes |> Array.mapi (fun k s -> Tensor.random (c.Seed + k) s)
            let b = Einsum.bind c.Equation c.Shapes
            let fast = Engine.contract b.Contraction xs
            let slow = EinsumReference.contract b.Contraction xs
            // Two operands: each element is +0 + a·b, exactly as the reference forms it.
            let same = if xs.Length = 2 then fast.ToArray() = slow.ToArray() else Tensor.allClose 1e-15 0.0 fast slow
            if not same then
                Check.failf "%s with shapes %A differs from the reference by %g" c.Equation c.Shapes (Tensor.maxAbsDiff fast slow)
            let g = Tensor.random (c.Seed + 5) b.OutputShape
            for k in 0 .. xs.Length - 1 do
                let others = xs |> Array.indexed |> Array.filter (fun (j, _) -> j <> k) |> Array.map snd
                let con = Contraction.gradient b.Contraction k
                let fast = Engine.contract con (Array.append [| g |] others)
                let slow = EinsumReference.contract con (Array.append [| g |] others)
                if not (Tensor.allClose 1e-12 1e-12 fast slow) then
                    Check.failf "gradient %d of %s with shapes %A differs from the reference by %g" k c.Equation c.Shapes (Tensor.maxAbsDiff fast slow))
        |> ignore

    [<Fact>]
    let ``bound equations are cached by equation and shapes, compared by value`` () =
        // Same equation, transposed shapes, then the first again; then another equation on the same shapes.
        let a = Tensor.random 1 [| 2; 3 |]
        let b = Tensor.random 2 [| 3; 2 |]
        let check (eq: string) (xs: Tensor[]) =
            let bound = Einsum.bind eq (xs |> Array.map (fun x -> x.Shape))
            let r = Einsum.contract eq xs
            Assert.True(Tensor.allClose 1e-12 1e-12 r (EinsumReference.contract bound.Contraction xs), eq)
            r
        let ab = check "ij,jk->ik" [| a; b |]
        let ba = check "ij,jk->ik" [| b; a |]
        Assert.Equal<int[]>([| 2; 2 |], ab.Shape)
        Assert.Equal<int[]>([| 3; 3 |], ba.Shape)
        Assert.Equal(ab, check "ij,jk->ik" [| Tensor.create [| 2; 3 |] (a.ToArray()); b |])
        Assert.Equal<int[]>([| 2; 2 |], (check "ij,jk->ki" [| a; b |]).Shape)
        Assert.Equal(Tensor.transpose ab, check "ij,jk->ki" [| a; b |])

    [<Fact>]
    let ``extended forms: a repeated output label writes a diagonal, an output-only label broadcasts`` () =
        let c = { Inputs = [| [| 0 |] |]; Output = [| 0; 0; 1 |]; Sizes = [| 2; 3 |] }
        let r = Engine.contract c [| Tensor.vector [| 5.0; 7.0 |] |]
        Assert.Equal<int[]>([| 2; 2; 3 |], r.Shape)
        Assert.Equal(5.0, r.[[| 0; 0; 2 |]])
        Assert.Equal(7.0, r.[[| 1; 1; 0 |]])
        Assert.Equal(0.0, r.[[| 0; 1; 1 |]])

    /// The greedy planner counts each label's operands instead of listing the other operands for every pair (n⁴
    /// label lookups over a plan, n³ now): the same plans as the listing, step for step, on random operands.
    [<Fact>]
    let ``the greedy planner's label counts give the plans of listing the other operands`` () =
        let listed (sizes: int[]) (output: int[]) (operands: int[][]) =
            let mutable ops = operands
            let steps = ResizeArray()
            while ops.Length > 1 do
                let mutable best = None
                for i in 0 .. ops.Length - 2 do
                    for j in i + 1 .. ops.Length - 1 do
                        let others = ops |> Array.indexed |> Array.filter (fun (k, _) -> k <> i && k <> j) |> Array.map snd
                        let keep l = Array.contains l output || others |> Array.exists (Array.contains l)
                        let res = Plan.pairResult ops.[i] ops.[j] keep
                        let flops = 2.0 * Plan.size sizes (Array.append ops.[i] ops.[j] |> Array.distinct)
                        let key = (Plan.size sizes res - Plan.size sizes ops.[i] - Plan.size sizes ops.[j], flops)
                        match best with
                        | Some (k, _, _, _) when not (key < k) -> ()
                        | _ -> best <- Some(key, i, j, Array.append others [| res |])
                let _, i, j, next = best.Value
                steps.Add((i, j))
                ops <- next
            List.ofSeq steps
        let rng = System.Random(12)
        for _ in 1 .. 200 do
            let labels = 4 + rng.Next 16
            let sizes = Array.init labels (fun _ -> 1 + rng.Next 9)
            let operands = Array.init (Plan.optimalLimit + 1 + rng.Next 10) (fun _ -> Array.init labels id |> Array.filter (fun _ -> rng.Next 3 = 0))
            let output = Array.init labels id |> Array.filter (fun _ -> rng.Next 4 = 0)
            let plan = Plan.create sizes output operands
            Assert.Equal(Greedy, plan.Method)
            Assert.Equal<(int * int) list>(listed sizes output operands, plan.Steps |> List.map (fun st -> st.Left, st.Right))

    [<Fact>]
    let ``three or more operands are ordered by the cost model and the plan reports flops`` () =
        // ij,jk,k->i: contracting jk with k first avoids the i×k intermediate.
        let p = Einsum.plan "ij,jk,k->i" [| [| 100; 200 |]; [| 200; 300 |]; [| 300 |] |]
        Assert.Equal(Optimal, p.Method)
        let first = p.Steps.Head
        Assert.Equal<int[]>([| 1; 2 |], [| first.Left; first.Right |])
        Assert.Equal(2.0 * 200.0 * 300.0 + 2.0 * 100.0 * 200.0, p.Flops)
        // Greedy beyond the exhaustive limit.
        let many = Einsum.plan "ab,bc,cd,de,ef,fg->ag" (Array.init 6 (fun _ -> [| 4; 4 |]))
        Assert.Equal(Greedy, many.Method)
        Assert.Equal(5, many.Steps.Length)
        // Sizes whose products pass a double's range (∞ and NaN costs): every method still plans every step (the
        // greedy loop never picked a pair and did not end; the search returned no steps).
        for count in [ 4; 5; 9 ] do
            let labels = Array.init count (fun k -> Array.init 7 (fun j -> k * 7 + j))
            let sizes = Array.create (count * 7) System.Int32.MaxValue
            // Every label kept in the output, so each step is an outer product and the sizes multiply.
            let task = System.Threading.Tasks.Task.Run(fun () -> Plan.create sizes (Array.init (count * 7) id) labels)
            Assert.True(task.Wait(System.TimeSpan.FromSeconds 20.0), sprintf "%d operands: the planner did not finish" count)
            Assert.Equal(count - 1, task.Result.Steps.Length)

    [<Fact>]
    let ``an output or intermediate above the memory limit is refused before allocation`` () =
        // 50,000 × 50,000 doubles are 20 GB: over the default 8 GiB limit (and over what an array holds).
        let e = Assert.Throws<MemoryLimitException>(fun () -> Einsum.contract "i,j->ij" [| Tensor.ones [| 50000 |]; Tensor.ones [| 50000 |] |] |> ignore)
        Assert.Contains("2500000000 elements", e.Message)
        Assert.Contains("20000000000 bytes", e.Message)
        Assert.Equal(Limits.memoryLimitBytes, e.LimitBytes)
        let e2 = Assert.Throws<MemoryLimitException>(fun () -> Einsum.contract "ij,jk,kl->il" [| Tensor.ones [| 60000; 1 |]; Tensor.ones [| 1; 1 |]; Tensor.ones [| 1; 60000 |] |] |> ignore)
        Assert.Contains("elements", e2.Message)
        // Under a transform the einsum runs one step at a time; the last step's size is still refused before
        // the first step allocates its 60,000-element (480 KB) intermediate.
        let xs = [| Tensor.ones [| 60000; 1 |]; Tensor.ones [| 1; 1 |]; Tensor.ones [| 1; 60000 |] |] |> Array.map Value.constant
        let refuse () = Assert.Throws<MemoryLimitException>(fun () -> Autodiff.vjpMany (fun vs -> Linear.einsum "ij,jk,kl->il" vs) xs |> ignore) |> ignore
        refuse () // the first call also binds, compiles and JIT-compiles
        let before = System.GC.GetAllocatedBytesForCurrentThread()
        refuse ()
        let allocated = System.GC.GetAllocatedBytesForCurrentThread() - before
        Assert.True(allocated < 200_000L, sprintf "%d bytes allocated before the refusal" allocated)
