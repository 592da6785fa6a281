namespace Functional.Core

open System

/// How a plan was chosen.
type PlanMethod =
    | Single
    | Optimal
    | Greedy

/// One pairwise step: operands Left and Right of the current list (Left < Right) are removed and the
/// result, with labels Result, is appended (opt_einsum's convention).
type PlanStep =
    { Left: int
      Right: int
      LeftLabels: int[]
      RightLabels: int[]
      Result: int[]
      /// Multiply-adds counted as 2 flops.
      Flops: float
      /// Elements of the result.
      Size: float }

type ContractionPlan =
    { Steps: PlanStep list
      Flops: float
      LargestIntermediate: float
      Method: PlanMethod }

/// Orders pairwise contractions by a cost model: exhaustive for few operands, greedy beyond.
[<RequireQualifiedAccess>]
module internal Plan =

    /// Up to this many operands the plan is exhaustive (minimum total flops among orders that fit the memory limit).
    let optimalLimit = 5

    let internal size (sizes: int[]) (labels: int[]) = labels |> Array.fold (fun acc l -> acc * float (max 0 sizes.[l])) 1.0

    /// Labels of a pairwise result: batch (shared and kept), then left-only, then right-only kept labels.
    let internal pairResult (la: int[]) (lb: int[]) (keep: int -> bool) =
        let batch = la |> Array.filter (fun l -> Array.contains l lb && keep l)
        let aOnly = la |> Array.filter (fun l -> not (Array.contains l lb) && keep l)
        let bOnly = lb |> Array.filter (fun l -> not (Array.contains l la) && keep l)
        Array.concat [ batch; aOnly; bOnly ]

    let private step (sizes: int[]) (output: int[]) (ops: int[][]) (i: int) (j: int) =
        let others = ops |> Array.indexed |> Array.filter (fun (k, _) -> k <> i && k <> j) |> Array.map snd
        let keep l = Array.contains l output || others |> Array.exists (Array.contains l)
        let res = pairResult ops.[i] ops.[j] keep
        let all = Array.append ops.[i] ops.[j] |> Array.distinct
        let st = { Left = i; Right = j; LeftLabels = ops.[i]; RightLabels = ops.[j]; Result = res; Flops = 2.0 * size sizes all; Size = size sizes res }
        let next = Array.append others [| res |]
        st, next

    let private finish (steps: PlanStep list) meth =
        { Steps = steps
          Flops = steps |> List.sumBy (fun s -> s.Flops)
          LargestIntermediate = (if steps.IsEmpty then 0.0 else steps |> List.map (fun s -> s.Size) |> List.max)
          Method = meth }

    /// The plan for operands with the given (distinct) labels; among orders whose intermediates fit a memory limit
    /// of `limit` bytes, the fewest flops. The limit is a parameter, not read as the search goes: a plan is cached
    /// with the limit it was made under, which another thread may change meanwhile.
    let createUnder (limit: int64) (sizes: int[]) (output: int[]) (operands: int[][]) : ContractionPlan =
        // 1 for a result past the limit, else 0: the first part of every cost, so that an order whose
        // intermediates fit wins over a cheaper one that the engine would refuse.
        let over (elements: float) = if Limits.exceedsUnder limit elements then 1 else 0
        let n = operands.Length
        if n <= 1 then finish [] Single
        elif n = 2 then finish [ fst (step sizes output operands 0 1) ] Optimal
        elif n <= optimalLimit then
            // Exhaustive search; recursion depth is the operand count (≤ optimalLimit).
            // Costs are (steps past the memory limit, flops), compared in that order.
            let rec best (ops: int[][]) : struct (int * float) * PlanStep list =
                if ops.Length = 1 then struct (0, 0.0), []
                else
                    let mutable bestCost = struct (Int32.MaxValue, Double.PositiveInfinity)
                    let mutable bestSteps = []
                    for i in 0 .. ops.Length - 2 do
                        for j in i + 1 .. ops.Length - 1 do
                            let st, next = step sizes output ops i j
                            let struct (o, c), rest = best next
                            let struct (bo, bc) = bestCost
                            let o, total = o + over st.Size, st.Flops + c
                            // The first pair is taken whatever its cost: costs past a double's range are ∞ or NaN.
                            if List.isEmpty bestSteps || o < bo || (o = bo && total < bc) then
                                bestCost <- struct (o, total)
                                bestSteps <- st :: rest
                    bestCost, bestSteps
            let _, steps = best operands
            finish steps Optimal
        else
            let mutable ops = operands
            let steps = ResizeArray()
            // How many operands hold each label: a pair's result keeps a label the output or a third operand has,
            // found from the counts without building the other operands' list for every pair: n operands cost n³
            // label lookups in all, not n⁴.
            let counts = Array.zeroCreate<int> sizes.Length
            while ops.Length > 1 do
                Array.Clear counts
                for o in ops do
                    for l in o do counts.[l] <- counts.[l] + 1
                let operandSizes = ops |> Array.map (size sizes)
                let mutable pick = -1, -1
                let mutable bestKey = (Int32.MaxValue, Double.PositiveInfinity, Double.PositiveInfinity)
                for i in 0 .. ops.Length - 2 do
                    for j in i + 1 .. ops.Length - 1 do
                        let a, b = ops.[i], ops.[j]
                        let keep l =
                            Array.contains l output
                            || counts.[l] - (if Array.contains l a then 1 else 0) - (if Array.contains l b then 1 else 0) > 0
                        let res = pairResult a b keep
                        let flops = 2.0 * size sizes (Array.append a b |> Array.distinct)
                        let resultSize = size sizes res
                        let key = (over resultSize, resultSize - operandSizes.[i] - operandSizes.[j], flops)
                        if fst pick < 0 || key < bestKey then
                            bestKey <- key
                            pick <- i, j
                let st, next = step sizes output ops (fst pick) (snd pick)
                steps.Add st
                ops <- next
            finish (List.ofSeq steps) Greedy

    /// `createUnder` the memory limit as it is now.
    let create (sizes: int[]) (output: int[]) (operands: int[][]) : ContractionPlan =
        createUnder Limits.memoryLimitBytes sizes output operands
