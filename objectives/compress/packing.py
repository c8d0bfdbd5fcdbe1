"""Packed weights: the on-disk format of a model's compressed state dict, and its exact size.

A safetensors file with one ``U8`` tensor ``"packed"`` (the payload) and the metadata ``{"format":
"FORMAT; layout=<hash of keys, shapes, dtypes>"}`` (one key: safetensors writes several in no fixed
order, and the same weights must give the same bytes). The payload holds one byte-aligned record per
state-dict entry in sorted key order (a module's parameters change order when a parametrization
is removed), no names or shapes (the template state dict gives them)::

    byte               quantized << 2 | index (0 dense, 1 bitmap, 2 runs)
    byte, rows x f32   quantized only: bits (2..16), per-output-channel scales (0: all-zero row)
    byte, varint       runs only: k (gap bits), entry count
    bits, MSB first    dense: every code | bitmap: 1 bit per element, codes of the nonzeros |
                       runs (Han et al. 2016): (gap: k bits, code) per entry, zero fillers

A quantized code is ``value / scale`` in two's complement; the one pattern symmetric quantization
leaves unused (-2^(b-1)) is -0.0. A raw code is an element's bytes. Zero is the all-zero bit
pattern (+0.0), so the round trip is bit-identical.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

__all__ = ["FORMAT", "describe", "is_packed", "load_packed", "pack", "packed_size", "save_packed",
           "tensor_bytes", "unpack"]

FORMAT = "frontier-packed/1"
_INDEXES = ("dense", "bitmap", "runs")
_DENSE, _BITMAP, _RUNS = range(3)
_MAX_K = 16  # widest runs gap
_ULPS = 3  # scale search: this many ulps either side of amax / qmax
_MAX_HEADER = 4096  # ours is under 512 bytes


@dataclass
class _Plan:
    """What pack writes for one tensor; packed_size sums ``size`` (one decision for both)."""
    width: int  # bits per code
    index: int
    k: int  # runs: gap bits
    entries: int  # runs: entry count
    size: int  # record bytes
    nonzero: np.ndarray  # bool per element
    raw: np.ndarray  # (numel, itemsize) uint8: the elements' bytes
    codes: np.ndarray | None = None  # quantized: uint16 two's complement code per element
    scales: np.ndarray | None = None  # quantized: float32 per row; None: a raw record


def _varint(n: int) -> bytes:
    groups = [n >> s & 0x7F for s in range(0, max(n.bit_length(), 1), 7)]
    return bytes(g | 0x80 for g in groups[:-1]) + bytes(groups[-1:])


def _quantize(t: torch.Tensor, bits: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-row scales and codes whose products reproduce ``t`` bit for bit, or None."""
    qmax = np.float32(2 ** (bits - 1) - 1)
    v = t.numpy().reshape(t.shape[0] if t.dim() >= 2 else 1, -1)
    with np.errstate(all="ignore"):
        amax = np.abs(v).max(axis=1)
        scales, q = np.zeros_like(amax), np.zeros_like(v)
        todo = np.flatnonzero(amax != 0)  # an all-zero row keeps scale 0 and codes 0
        first = (amax / qmax).view(np.int32)  # scales are positive: +-1 on the bits is +-1 ulp
        for step in sorted(range(-_ULPS, _ULPS + 1), key=abs):
            cand = (first + np.int32(step)).view(np.float32)
            rows, s = (v if todo.size == v.shape[0] else v[todo]), cand[todo, None]
            r = np.rint(rows / s)
            good = (((r * s).view(np.int32) == rows.view(np.int32)) & (np.abs(r) <= qmax)).all(1)
            scales[todo[good]], q[todo[good]] = cand[todo[good]], r[good]
            todo = todo[~good]
    if todo.size:
        return None
    codes = (q.astype(np.int32).ravel() & ((1 << bits) - 1)).astype(np.uint16)
    codes[v.view(np.int32).ravel() == np.int32(-(2**31))] = 1 << (bits - 1)  # -0.0
    return scales, codes


def _index(numel: int, nnz: int, gaps: np.ndarray, width: int) -> tuple[int, int, int, int]:
    """(bytes, index, k, entries) of the cheapest index (runs: its header bytes included)."""
    best = [((numel * width + 7) // 8, _DENSE, 0, 0),
            ((numel + nnz * width + 7) // 8, _BITMAP, 0, 0)]
    big = gaps[gaps >= 2]
    for k in range(1, _MAX_K + 1):
        if nnz * k >= numel:  # runs take >= nnz * (k + width) bits: never below the bitmap
            break
        big = big[big >= 1 << k]  # entries(k) = nnz + sum(gap // 2^k)
        entries = nnz + int((big >> k).sum())
        size = 1 + len(_varint(entries)) + (entries * (k + width) + 7) // 8
        best.append((size, _RUNS, k, entries))
        if not big.size:  # no fillers left: a wider gap field only costs more
            break
    return min(best)


def _plan(t: torch.Tensor, bits: int) -> _Plan:
    t = t.detach().cpu().contiguous()
    isz, numel = t.element_size(), t.numel()
    raw = t.reshape(-1).view(torch.uint8).numpy().reshape(numel, isz)
    nonzero = np.asarray(raw.view(f"<u{isz}")[:, 0] != 0 if isz in (1, 2, 4, 8) else raw.any(1))
    pos = np.flatnonzero(nonzero)
    gaps = np.diff(pos, prepend=-1) - 1
    size, index, k, entries = _index(numel, pos.size, gaps, 8 * isz)
    plan = _Plan(8 * isz, index, k, entries, 1 + size, nonzero, raw)
    if t.dtype == torch.float32 and 2 <= bits <= 16 and t.dim() >= 1 and numel > 0:
        found = _quantize(t, bits)
        if found is not None:
            size, index, k, entries = _index(numel, pos.size, gaps, bits)
            if 2 + 4 * found[0].size + size < plan.size:  # else raw is cheaper (tiny tensors)
                size += 2 + 4 * found[0].size
                plan = _Plan(bits, index, k, entries, size, nonzero, raw, found[1], found[0])
    return plan


def _from_bits(bits: np.ndarray, nbytes: int) -> np.ndarray:
    """(n, w) bits, MSB first -> (n, nbytes) uint8, each row a big-endian number."""
    return np.packbits(np.pad(bits, ((0, 0), (8 * nbytes - bits.shape[1], 0))), axis=1)


def _to_bits(mat: np.ndarray, width: int) -> np.ndarray:
    """Inverse of :func:`_from_bits`: the low ``width`` bits of each row, MSB first."""
    return np.unpackbits(mat, axis=1)[:, 8 * mat.shape[1] - width:]


def _record(plan: _Plan) -> bytes:
    head = bytes([int(plan.scales is not None) << 2 | plan.index])
    mat, w = plan.raw, plan.width  # codes, each big-endian in the low w bits of a row
    if plan.codes is not None and plan.scales is not None:
        head += bytes([w]) + plan.scales.astype("<f4").tobytes()
        mat = plan.codes.astype(">u2").view(np.uint8).reshape(-1, 2)[:, int(w <= 8):]
    if plan.index == _RUNS:
        head += bytes([plan.k]) + _varint(plan.entries)
    if plan.index == _DENSE and w == 8 * mat.shape[1]:
        return head + mat.tobytes()
    if plan.index == _BITMAP and w == 8 * mat.shape[1] and plan.nonzero.size % 8 == 0:
        return head + np.packbits(plan.nonzero).tobytes() + mat[plan.nonzero].tobytes()
    if plan.index == _DENSE:
        bits = [_to_bits(mat, w).ravel()]
    elif plan.index == _BITMAP:
        bits = [plan.nonzero.astype(np.uint8), _to_bits(mat[plan.nonzero], w).ravel()]
    else:
        pos = np.flatnonzero(plan.nonzero)
        gaps = np.diff(pos, prepend=-1) - 1
        fill = gaps >> plan.k
        ends = np.cumsum(fill + 1) - 1  # each nonzero comes after its fillers
        gap = np.full(plan.entries, (1 << plan.k) - 1, ">u2")
        gap[ends] = gaps - (fill << plan.k)
        code = np.zeros((plan.entries, mat.shape[1]), np.uint8)
        code[ends] = mat[pos]
        gap_bits = _to_bits(gap.view(np.uint8).reshape(-1, 2), plan.k)
        bits = [np.hstack([gap_bits, _to_bits(code, w)]).ravel()]
    return head + np.packbits(np.concatenate(bits)).tobytes()


def _layout(state: Mapping[str, torch.Tensor]) -> str:
    desc = [[k, list(state[k].shape), str(state[k].dtype).removeprefix("torch.")]
            for k in sorted(state)]
    return hashlib.sha256(json.dumps(desc, separators=(",", ":")).encode()).hexdigest()[:16]


def tensor_bytes(t: torch.Tensor, bits: int = 32) -> int:
    """Bytes of ``t``'s record in the packed format (record header, scales, index and codes)."""
    return _plan(t, bits).size


def packed_size(state: Mapping[str, torch.Tensor], bits: Mapping[str, int]) -> int:
    """Payload bytes of ``state`` packed with ``bits`` (state-dict key -> weight bits of a
    quantized entry; keys absent or at 32 are stored at their dtype). Equals the file size minus
    the container header (under 512 bytes). Computed without writing or bit-packing anything."""
    return sum(_plan(t, bits.get(k, 32)).size for k, t in state.items())


def describe(state: Mapping[str, torch.Tensor], bits: Mapping[str, int]) -> list[dict[str, object]]:
    """Per entry: key, numel, nonzero, bits (per stored code), index and record bytes."""
    plans = ((key, t, _plan(t, bits.get(key, 32))) for key, t in state.items())
    return [{"key": key, "numel": t.numel(), "nonzero": int(p.nonzero.sum()), "bits": p.width,
             "index": _INDEXES[p.index], "bytes": p.size} for key, t, p in plans]


def pack(state: Mapping[str, torch.Tensor], bits: Mapping[str, int]) -> bytes:
    """The packed file's bytes (a safetensors file; see the module docstring)."""
    payload = b"".join(_record(_plan(state[k], bits.get(k, 32))) for k in sorted(state))
    meta = {"format": f"{FORMAT}; layout={_layout(state)}"}
    return _st_save({"packed": np.frombuffer(payload, np.uint8)}, metadata=meta)


def _header(data: bytes) -> dict[str, object] | None:
    """The safetensors metadata of ``data`` if it says FORMAT (with its ``layout`` split out),
    else None."""
    n = int.from_bytes(data[:8], "little") if len(data) >= 8 else 0
    try:
        head = json.loads(data[8:8 + n]) if 0 < n <= min(_MAX_HEADER, len(data) - 8) else None
    except (ValueError, UnicodeDecodeError):
        return None
    meta = head.get("__metadata__") if isinstance(head, dict) else None
    if not isinstance(meta, dict) or not str(meta.get("format", "")).startswith(f"{FORMAT};"):
        return None
    return {"format": FORMAT, "layout": str(meta["format"]).partition("; layout=")[2]}


def is_packed(data_or_path: bytes | str | Path) -> bool:
    """Whether ``data_or_path`` is a packed weights file (reads only its header)."""
    if isinstance(data_or_path, bytes):
        return _header(data_or_path) is not None
    try:
        with open(data_or_path, "rb") as f:
            return _header(f.read(8 + _MAX_HEADER)) is not None
    except OSError:
        return False


def _bits(buf: np.ndarray, pos: int, n: int) -> np.ndarray:
    if (pos + n + 7) // 8 > buf.size:
        raise ValueError("record runs past the end of the payload")
    return np.unpackbits(buf[pos // 8:(pos + n + 7) // 8])[pos % 8:pos % 8 + n]


def _codes(buf: np.ndarray, pos: int, n: int, width: int, nbytes: int) -> np.ndarray:
    """(n, nbytes) codes read from bit ``pos`` of ``buf``."""
    if pos % 8 == 0 and width == 8 * nbytes and pos // 8 + n * nbytes <= buf.size:
        return buf[pos // 8:pos // 8 + n * nbytes].reshape(n, nbytes)
    return _from_bits(_bits(buf, pos, n * width).reshape(n, width), nbytes)


def _decode(buf: np.ndarray, p: int, like: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The tensor whose record starts at byte ``p``, and the next record's offset."""
    numel, nbytes, quantized, index = like.numel(), like.element_size(), buf[p] >> 2, buf[p] & 3
    width, k, entries, shift, scales, p = 8 * nbytes, 0, 0, 0, None, p + 1
    if quantized:
        width, nbytes, p = int(buf[p]), 1 + int(buf[p] > 8), p + 1
        if quantized > 1 or like.dtype != torch.float32 or not 2 <= width <= 16:
            raise ValueError(f"a {width}-bit quantized record for a {like.dtype} tensor")
        rows = like.shape[0] if like.dim() >= 2 else 1
        scales, p = np.frombuffer(buf[p:p + 4 * rows], "<f4"), p + 4 * rows  # short: raise below
    if index == _RUNS:
        k, p = int(buf[p]), p + 1
        while buf[p] & 0x80 and shift < 63:
            entries, p, shift = entries | int(buf[p] & 0x7F) << shift, p + 1, shift + 7
        entries, p = entries | int(buf[p]) << shift, p + 1
        if not 1 <= k <= _MAX_K or entries > numel:
            raise ValueError(f"bad runs index (k={k}, {entries} entries)")
    mat = np.zeros((numel, nbytes), np.uint8)
    if index == _DENSE:
        mat, nbits = _codes(buf, 8 * p, numel, width, nbytes), numel * width
    elif index == _BITMAP:
        mask = _bits(buf, 8 * p, numel).astype(bool)
        nbits = numel + int(mask.sum()) * width
        mat[mask] = _codes(buf, 8 * p + numel, int(mask.sum()), width, nbytes)
    elif index == _RUNS:
        nbits = entries * (k + width)
        bits = _bits(buf, 8 * p, nbits).reshape(entries, k + width)
        at = np.cumsum(_from_bits(bits[:, :k], 2).view(">u2")[:, 0].astype(np.int64) + 1) - 1
        mat[at] = _from_bits(bits[:, k:], nbytes)
    else:
        raise ValueError(f"unknown index {index}")
    p += (nbits + 7) // 8
    if scales is None:
        out = torch.empty(like.shape, dtype=like.dtype)
        out.reshape(-1).view(torch.uint8).numpy()[:] = mat.reshape(-1)
        return out, p
    u = (mat[:, 0] if nbytes == 1 else mat.view(">u2")[:, 0]).astype(np.int32)
    signed = np.where(u >= 1 << (width - 1), u - (1 << width), u).astype(np.float32)
    values = (signed.reshape(scales.size, -1) * scales[:, None]).ravel()
    values[u == 1 << (width - 1)] = np.float32(-0.0)  # the spare code
    return torch.from_numpy(values.reshape(like.shape)), p


def unpack(data: bytes, template: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict in ``data``: keys, shapes and dtypes from ``template`` (e.g. the state dict
    of the model rebuilt from its spec), values bit-identical to what was packed (on the CPU).
    Raises ValueError when ``data`` is not a packed file or was packed for another layout."""
    meta = _header(data)
    if meta is None:
        raise ValueError(f"not a packed weights file (no safetensors header of format {FORMAT})")
    found, want = meta.get("layout"), _layout(template)
    if found != want:
        raise ValueError(f"packed weights layout {found} does not match the template's {want} "
                         f"({len(template)} tensors): keys, shapes or dtypes differ")
    try:
        buf = _st_load(data)["packed"]
    except (SafetensorError, KeyError) as e:
        raise ValueError(f"corrupt packed weights file: {e}") from None
    out, p = {}, 0
    for key in sorted(template):
        try:
            out[key], p = _decode(buf, p, template[key])
        except (ValueError, IndexError, RuntimeError) as e:
            raise ValueError(f"corrupt packed weights at {key}: {e}") from None
    if p != buf.size:
        raise ValueError(f"corrupt packed weights: {buf.size - p} bytes past the last record")
    return {key: out[key] for key in template}


def save_packed(path: str | Path, state: Mapping[str, torch.Tensor],
                bits: Mapping[str, int]) -> int:
    """Write ``state`` packed (:func:`pack`) to ``path``; returns the bytes written."""
    return Path(path).write_bytes(pack(state, bits))


def load_packed(path: str | Path, template: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict packed in the file at ``path`` (see :func:`unpack`)."""
    return unpack(Path(path).read_bytes(), template)
