"""``mode = "compress"``: candidates derived from a trained base model (``[base]``).

``base`` transfers the base when ``[base] transfer_epochs`` is set and hands it to the ``base``
space (``spaces.base``) with its removable units; ``start`` measures the base once per study,
the reference point of its outputs (``search.results.reference``)."""

from search.compress_mode.base import TRANSFER_ATTR, attach_base, record_transfer, transfer_base
from search.compress_mode.start import start_compress

__all__ = ["TRANSFER_ATTR", "attach_base", "record_transfer", "start_compress", "transfer_base"]
