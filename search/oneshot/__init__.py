"""One-shot (weight-sharing) mode, ``[study] mode = "one-shot"``: its settings (``settings``),
the study's supernet (``store``), the exploration of candidates on it and the choice of those
the study fine-tunes (``explore``), and the phase that runs them once (``start``)."""
