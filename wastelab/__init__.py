"""wastelab: the tested code behind the book *Deep learning on waste in the wild*."""

__version__ = "0.1.0"
