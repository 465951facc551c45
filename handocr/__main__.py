"""``python -m handocr``: the same command line as ``handocr``."""

if __name__ == "__main__":
    from handocr_cli.app import main

    main()
