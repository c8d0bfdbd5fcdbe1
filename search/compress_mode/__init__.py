"""``mode = "compress"``: candidates derived from a trained base model (``[base]``).

``base`` loads the base and hands it to the ``base`` space (``spaces.base``) with its removable
units; ``start`` measures the base once per study, the reference point of its outputs
(``search.results.reference``)."""

from search.compress_mode.base import attach_base
from search.compress_mode.start import start_compress

__all__ = ["attach_base", "start_compress"]
