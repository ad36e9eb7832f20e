"""No pages of its own: see ``urls.py``."""
