"""The tiny recursive model that ranks suggestions, and the rule ranker it falls back to.

torch is imported lazily inside this package, never at import time of the package itself.
"""
