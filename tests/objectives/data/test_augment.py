"""Batch augmentation: random crop with padding and horizontal flip, as a seeded tensor function."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from objectives.data import Split
from objectives.data.augment import augment_fn, crop_flip
from objectives.train import train
from spaces import MLPSpec, create_space


def _views(image: torch.Tensor, padding: int = 4) -> list[torch.Tensor]:
    """Every crop (flipped or not) crop_flip may return for ``image``."""
    _, h, w = image.shape
    padded = F.pad(image, (padding,) * 4)
    crops = [padded[:, t:t + h, s:s + w] for t in range(2 * padding + 1)
             for s in range(2 * padding + 1)]
    return crops + [c.flip(-1) for c in crops]


def test_each_image_is_one_padded_crop_flipped_or_not() -> None:
    x = torch.randn(16, 3, 8, 8)
    out = crop_flip(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    flipped = 0
    for image, result in zip(x, out, strict=True):
        matches = [i for i, v in enumerate(_views(image)) if torch.equal(v, result)]
        assert matches, "output is not a crop of the padded input"
        flipped += matches[0] >= 81
    assert 0 < flipped < 16  # both flipped and unflipped images occur
    assert not torch.equal(out, x)


def test_seeded_and_varied() -> None:
    x = torch.randn(8, 1, 6, 6)
    a = crop_flip(x, torch.Generator().manual_seed(1))
    b = crop_flip(x, torch.Generator().manual_seed(1))
    c = crop_flip(x, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_padding_is_zero_and_at_most_four_pixels() -> None:
    out = crop_flip(torch.ones(64, 1, 10, 10), torch.Generator().manual_seed(0))
    assert set(out.unique().tolist()) == {0.0, 1.0}
    assert (out[:, :, 4:6, 4:6] == 1).all()  # the centre is always image
    assert float((out == 0).float().mean()) > 0.1


def test_names() -> None:
    assert augment_fn("none") is None and augment_fn("crop_flip") is crop_flip
    with pytest.raises(ValueError, match=r"^dataset\.augment: unknown augmentation 'mixup'"):
        augment_fn("mixup")


def test_train_applies_it_to_every_batch_reproducibly() -> None:
    data = Split(torch.randn(64, 1, 8, 8), torch.randint(0, 3, (64,)))
    calls = []

    def counting(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        calls.append(x.shape[0])
        return crop_flip(x, g)

    weights = []
    for augment in (counting, crop_flip, crop_flip):
        torch.manual_seed(0)
        model = create_space("mlp").build(MLPSpec((8,)), (1, 8, 8), 3)
        train(model, data, epochs=2, lr=0.01, batch_size=16, seed=0, augment=augment)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert calls == [16] * 8
    torch.testing.assert_close(weights[1], weights[2])
