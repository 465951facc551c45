"""``python -m handocr_cli``."""

if __name__ == "__main__":
    from handocr_cli.app import main

    main()
