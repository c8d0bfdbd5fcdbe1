"""One-shot (weight-sharing) mode for the ``cnn`` space: a supernet holding every candidate
(:class:`SuperCNN`), trained once with the sandwich rule and in-place distillation
(:func:`train_supernet`); candidates are then cut out of it and, after batch-norm recalibration
(:func:`recalibrate_bn`), measured without training their own weights."""

from objectives.oneshot.calibrate import recalibrate_bn
from objectives.oneshot.supernet import SuperCNN
from objectives.oneshot.train import train_supernet

__all__ = ["SuperCNN", "recalibrate_bn", "train_supernet"]
