"""Commands beyond scan, one module each, registered in cli.py."""
