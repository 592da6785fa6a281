namespace Functional.Tests

open System
open FsCheck
open FsCheck.FSharp

/// Property runs with a fixed seed (replayable) and a case count scaled by FUNCTIONAL_SOAK.
module Check =

    /// Fails the current test with a formatted message.
    let failf fmt = Printf.kprintf (fun s -> raise (Xunit.Sdk.XunitException s)) fmt

    /// Multiplies every property's case count (soak mode); 1 by default.
    let soak =
        match Environment.GetEnvironmentVariable "FUNCTIONAL_SOAK" with
        | null | "" -> 1
        | s -> match Int32.TryParse s with | true, n when n > 0 -> n | _ -> 1

    /// A property's seed from its name, the same in every process (string.GetHashCode is randomised per process,
    /// so a seed taken from it changed from run to run): FNV-1a over the name's UTF-16 code units.
    let seedOf (name: string) =
        let mutable h = 14695981039346656037UL
        for ch in name do
            h <- (h ^^^ uint64 ch) * 1099511628211UL
        h ||| 1UL

    /// FUNCTIONAL_SEED=random: one random salt per process, mixed into every property's seed, so that a run checks
    /// cases the fixed seeds never reach; a failure prints its pair as always.
    let private salt = uint64 (Random.Shared.NextInt64()) ||| 1UL

    /// FUNCTIONAL_SEED overrides the fixed seed ("seed,gamma" as printed on failure; "random" for new cases).
    let replay (defaultSeed: uint64) =
        match Environment.GetEnvironmentVariable "FUNCTIONAL_SEED" with
        | null | "" -> (defaultSeed, 0x9E3779B97F4A7C15UL ||| 1UL)
        | "random" -> ((defaultSeed * salt) ||| 1UL, 0x9E3779B97F4A7C15UL ||| 1UL)
        | s ->
            let parts = s.Trim('(', ')', ' ').Split(',')
            (UInt64.Parse(parts.[0].Trim()), UInt64.Parse(parts.[1].Trim()))


    /// Runs `property` over `cases` values of `arb`; throws with the seed and the shrunk case on failure.
    let forAll (name: string) (seed: uint64) (cases: int) (arb: Arbitrary<'a>) (property: 'a -> unit) =
        let s, g = replay seed
        let config =
            Config.QuickThrowOnFailure
                .WithName(name)
                .WithMaxTest(cases * soak)
                .WithQuietOnSuccess(true)
                .WithReplay(Some { Rnd = Rnd(s, g); Size = None })
        let mutable ran = 0
        try
            Check.One(config, Prop.forAll arb (fun x -> ran <- ran + 1; property x; true))
        with e ->
            raise (Exception(sprintf "%s failed. Replay with FUNCTIONAL_SEED=\"%d,%d\".\n%s" name s g e.Message, e))
        // Guards against a property that silently checks nothing.
        if ran < cases * soak then failf "%s ran %d cases; %d were asked for." name ran (cases * soak)
        ran
