"""The trained base model a ``mode = "compress"`` study starts from: the ``[base]`` table
(:class:`BaseConfig`), the model it names (:func:`load_base`) and the checks run before a study
is written (:func:`check_base`). See ``docs/compress.md``.

- ``config``: BaseConfig, the table as data;
- ``paths``: paths found next to the study file, then in the current folder;
- ``state``: a checkpoint loaded with every mismatch named;
- ``huggingface``: a local ``from_pretrained`` folder as a module from token ids to logits;
- ``folder``: a ``frontier export`` model folder rebuilt;
- ``load``: load_base, check_base and load_folder;
- ``adapt``: transfer, the base fine-tuned once (head replaced when it does not fit), cached.
"""

from objectives.base.adapt import Adapted, adapt_base, transfer_key
from objectives.base.config import BASE_KINDS, BaseConfig
from objectives.base.huggingface import HuggingFaceBase
from objectives.base.load import check_base, load_base, load_folder
from objectives.base.paths import find_path

__all__ = ["BASE_KINDS", "Adapted", "BaseConfig", "HuggingFaceBase", "adapt_base", "check_base",
           "find_path", "load_base", "load_folder", "transfer_key"]
