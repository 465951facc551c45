"""The ``handocr`` command line (installed as the package ``handocr_cli``)."""
