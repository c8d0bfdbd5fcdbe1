"""``BaseConfig``: the ``[base]`` table of a study, the trained model ``mode = "compress"``
starts from. It is data: checking it reads no file (``objectives.base.check`` does that)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BASE_KINDS", "BaseConfig"]

#: The fields that name a base; exactly one is set.
BASE_KINDS = ("model", "huggingface", "export")


@dataclass(frozen=True)
class BaseConfig:
    """A trained base model (all empty: no ``[base]``).

    - ``model``: the import string (``"module:function"`` or ``"path/file.py:function"``) of
      ``build_base(input_shape, num_classes) -> nn.Module``, stored as ``[space] model`` is;
      with ``checkpoint``, a state-dict file loaded into it (read weights-only,
      ``{"state_dict": ...}`` / ``{"model": ...}`` unwrapped); without, the builder loads its
      own weights;
    - ``huggingface``: a local folder ``AutoModelForSequenceClassification.from_pretrained``
      reads (never a download; the ``transformers`` extra);
    - ``export``: a model folder written by ``frontier export``.

    ``transfer_epochs``: epochs of fine-tuning on the study's training split before any
    compression, after replacing a head whose width is not the data's number of classes (0: no
    transfer, the width must fit; a head that fits is fine-tuned too); ``transfer_lr``: its
    AdamW learning rate (cosine schedule); ``cache_dir``: where the adapted weights are cached
    by a content hash (``objectives.base.adapt``). ``trim``: names of modules (as
    ``named_modules`` gives them) a user marks as removable units. ``sensitivity``: in compress
    mode, compute the sensitivity table once per study and enqueue its warm-start trials
    (false: neither). Relative paths are found next to the study file, then in the current
    folder, and stored absolute.
    """

    model: str = ""
    checkpoint: str = ""
    huggingface: str = ""
    export: str = ""
    transfer_epochs: int = 0
    transfer_lr: float = 1e-3
    cache_dir: str = "runs/bases"
    trim: tuple[str, ...] = ()
    sensitivity: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "trim", tuple(self.trim))  # a TOML list

    @property
    def is_set(self) -> bool:
        """Whether anything is set, i.e. the study has a ``[base]`` table."""
        return self != BaseConfig()

    @property
    def kind(self) -> str:
        """Which of :data:`BASE_KINDS` names the base ("" when none does)."""
        return next((k for k in BASE_KINDS if getattr(self, k)), "")

    def problems(self) -> list[tuple[str, str]]:
        """``(field, message)`` of every setting that cannot hold, whatever the files say."""
        given = [k for k in BASE_KINDS if getattr(self, k)]
        out: list[tuple[str, str]] = []
        if not given:
            out.append(("base", "nothing names the base model; set one of model (a builder "
                                "\"module:function\"), huggingface (a local folder) or export "
                                "(a `frontier export` folder)"))
        elif len(given) > 1:
            out.append((f"base.{given[1]}", f"base.{given[0]} and base.{given[1]} are both "
                        "set; name the base model once"))
        if self.checkpoint and not self.model:
            out.append(("base.checkpoint", "a checkpoint is loaded into the model base.model "
                        "builds; set base.model, or remove the checkpoint"))
        if self.transfer_epochs < 0:
            out.append(("base.transfer_epochs", f"{self.transfer_epochs} must be >= 0"))
        if not self.transfer_lr > 0:
            out.append(("base.transfer_lr", f"{self.transfer_lr} must be > 0 (e.g. 1e-3)"))
        if any(not isinstance(t, str) or not t for t in self.trim):
            out.append(("base.trim", "give module names as named_modules() spells them, e.g. "
                        "[\"layer3.1\"]"))
        return out
