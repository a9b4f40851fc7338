"""How much of a metalsvd.svd call is the host's launching: the call's time as it is, against
the replay of a CUDA graph captured from the same call (the same kernels, launched by the
device from one graph launch), and, as a floor for one launch, a chain of empty launches.

    python bench/graph_replay.py [--sizes 1024x1024,4096x4096] [--repeats 10]

A graph replay runs the call's kernels without the host's per-launch work, so the difference
between the two times is what launching costs the call; what remains is the kernels' own time
with the device's gaps between dependent launches. Timed with CUDA events, median of --repeats
after a warm-up; the inputs are Gaussian float32."""

import argparse
import statistics

import torch

import metalsvd
from bench_timing import time_torch_cuda


def event_ms(fn, repeats):
    """The median time of fn() over `repeats` calls after a warm-up, each between two CUDA
    events (bench_timing's timer)."""
    fn()
    return statistics.median(time_torch_cuda(lambda _: fn(), None)[0] for _ in range(repeats))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1024x1024,4096x4096")
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("graph_replay: needs a CUDA device")
    print(f"{'shape':>12} {'call ms':>9} {'replay ms':>10} {'launch share':>13}", flush=True)
    for size in args.sizes.split(","):
        m, n = (int(x) for x in size.split("x"))
        A = torch.randn(m, n, device="cuda")
        call_ms = event_ms(lambda: metalsvd.svd(A), args.repeats)
        # Capture on a side stream, as torch.cuda.graph does, after a warm-up there.
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            metalsvd.svd(A)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            captured = metalsvd.svd(A)
        replay_ms = event_ms(graph.replay, args.repeats)
        reference = torch.linalg.svdvals(A.double())
        error = ((captured[1].double() - reference).abs().max() / reference[0]).item()
        share = (call_ms - replay_ms) / call_ms
        print(f"{size:>12} {call_ms:>9.2f} {replay_ms:>10.2f} {share:>13.1%}   replay's sigma "
              f"error {error:.1e}", flush=True)
    # One empty kernel launch after another: the least a dependent launch costs on this device.
    x = torch.zeros(1, device="cuda")
    chain = 1000
    chain_ms = event_ms(lambda: [x.add_(0) for _ in range(chain)], 3)
    print(f"a chain of {chain} one-element launches: {chain_ms * 1e3 / chain:.2f} us a launch")


if __name__ == "__main__":
    main()
