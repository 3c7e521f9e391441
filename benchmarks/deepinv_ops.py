"""Benchmark: eglass operators vs the deepinv operators that coincide with them.

For each pair (box super-resolution x4, inpainting, circular blur, compressed sensing) and
each batch shape -- ``(16, 1, 32, 32)``, the embedded prior's images, and ``(1, 3, 256, 256)``,
a natural image -- it times one forward + one adjoint, float32, as users run it:

* ``ours``: the eglass operator (``op.A(x)``, ``op.A_adjoint(y)``, input checks included);
* ``ours_unchecked``: the same maps without the input checks (``op._A``, ``op._A_adjoint``),
  to tell the cost of the checks (shape, finite values) from the cost of the operator;
* ``deepinv``: the raw physics (``physics.A(x)``, ``physics.A_adjoint(y)``);
* ``wrapped``: ``eglass.operators.from_deepinv(physics)``, what eglass runs when handed one;

(median of ``--repeats`` runs after a warm-up, ``eglass.utils.median_time``), and records the
parity of the pair in float64: relative errors of ``A``, ``A_adjoint`` and ``A_dagger``
(wrapper vs ours). Compressed sensing runs only at 32 x 32 (its dense matrix at 3 x 256 x 256
would not fit in memory).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/deepinv_ops.py [--repeats 20] [--threads 1]

Writes ``benchmarks/results/deepinv_ops.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import deepinv
import torch

from eglass.operators import (
    Blur,
    CompressedSensing,
    Inpainting,
    SuperResolution,
    from_deepinv,
    gaussian_kernel,
    random_mask,
)
from eglass.utils import median_time

RESULTS = Path(__file__).resolve().parent / "results" / "deepinv_ops.json"
SHAPES = [(16, 1, 32, 32), (1, 3, 256, 256)]
physics = deepinv.physics


def pairs(image_shape, dtype):
    """name -> (ours, deepinv's) for images ``(C, H, W)`` in ``dtype``."""
    c, h, w = image_shape
    box = torch.ones(1, 1, 4, 4, dtype=dtype) / 16
    mask = random_mask((h, w), 0.5, seed=0).to(dtype)
    kernel = gaussian_kernel(7, 1.5).to(dtype)
    out = {
        "sr-box-x4": (
            SuperResolution(4),
            physics.Downsampling(image_shape, filter=box, factor=4, padding="valid"),
        ),
        "inpainting": (Inpainting(mask), physics.Inpainting(image_shape, mask=mask[0])),
        "blur (BlurFFT)": (Blur(kernel), physics.BlurFFT(image_shape, filter=kernel[None, None])),
        "blur (Blur, conv)": (
            Blur(kernel),
            physics.Blur(filter=kernel[None, None], padding="circular"),
        ),
    }
    if h * w <= 32 * 32:
        m = c * h * w // 4
        rng = torch.Generator().manual_seed(0)
        out["cs (m = n/4)"] = (
            CompressedSensing(m, image_shape, seed=0).to(dtype),
            physics.CompressedSensing(m, image_shape, dtype=dtype, rng=rng),
        )
    return out


def relative(a, b):
    return ((a - b).norm() / b.norm()).item()


def parity(ours, theirs, shape):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    y = ours(x)
    wrapped = from_deepinv(theirs)
    return {
        "A": relative(wrapped(x), y),
        "A_adjoint": relative(wrapped.A_adjoint(y), ours.A_adjoint(y)),
        "A_dagger": relative(wrapped.A_dagger(y), ours.A_dagger(y)),
    }


def forward_adjoint(A, A_adjoint, x):
    def run():
        with torch.no_grad():
            A_adjoint(A(x))

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    for shape in SHAPES:
        x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        exact = pairs(shape[1:], torch.float64)
        for name, (ours, theirs) in pairs(shape[1:], torch.float32).items():
            wrapped = from_deepinv(theirs)
            times = {
                "ours": median_time(forward_adjoint(ours.A, ours.A_adjoint, x), args.repeats),
                "ours_unchecked": median_time(
                    forward_adjoint(ours._A, ours._A_adjoint, x), args.repeats
                ),
                "deepinv": median_time(
                    forward_adjoint(theirs.A, theirs.A_adjoint, x), args.repeats
                ),
                "wrapped": median_time(
                    forward_adjoint(wrapped.A, wrapped.A_adjoint, x), args.repeats
                ),
            }
            row = {
                "operator": name,
                "shape": list(shape),
                "seconds": times,
                "deepinv_over_ours": times["deepinv"] / times["ours"],
                "deepinv_over_ours_unchecked": times["deepinv"] / times["ours_unchecked"],
                "wrapped_over_ours": times["wrapped"] / times["ours"],
                "parity_float64": parity(*exact[name], (2, *shape[1:])),
            }
            rows.append(row)
            print(
                f"{name:18s} {str(tuple(shape)):18s} ours {times['ours'] * 1e3:7.3f} ms  "
                f"unchecked {times['ours_unchecked'] * 1e3:7.3f} ms  "
                f"deepinv {times['deepinv'] * 1e3:7.3f} ms ({row['deepinv_over_ours']:5.2f}x)  "
                f"wrapped {times['wrapped'] * 1e3:7.3f} ms ({row['wrapped_over_ours']:5.2f}x)  "
                "parity " + " ".join(f"{k} {v:.1e}" for k, v in row["parity_float64"].items())
            )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "what": "forward + adjoint, float32, median wall time; parity in float64",
                "repeats": args.repeats,
                "threads": args.threads,
                "torch": torch.__version__,
                "deepinv": deepinv.__version__,
                "machine": platform.processor() or platform.machine(),
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
