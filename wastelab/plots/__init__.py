"""Every figure the book shows, drawn with matplotlib: arrays in, a Figure out.

Each function draws on a new pyplot figure (or on an ``ax`` passed in) inside
:func:`book_style`, a ``matplotlib.rc_context``: nothing global changes on import or
after a call. The figure is returned, so in a notebook either end the cell with it *or*
assign it (``fig = show_images(...)``): pyplot shows every new figure at the end of a
cell, and a figure that is also the cell's value would show twice.

Colours come from the Okabe-Ito palette, which stays distinguishable with the common
kinds of colour blindness; mistakes are marked by colour *and* by a thick frame and a
"✗", never by colour alone.
"""

from .convolutions import (
    plot_convolution_demo,
    plot_feature_maps,
    plot_filters,
    plot_pooling,
    plot_receptive_field,
)
from .curves import (
    plot_history,
    plot_learning_rates,
    plot_loss_curves,
    plot_optimizer_comparison,
)
from .datasets import plot_class_balance, plot_dataset_statistics
from .evaluation import (
    plot_ablation,
    plot_confusion_matrix,
    plot_model_comparison,
    plot_precision_recall,
)
from .graph import plot_graph, tf_graph_nodes
from .images import plot_channels, show_image_as_numbers, show_images
from .neurons import plot_activations, plot_error_history, plot_softmax
from .style import (
    BOOK_RC,
    CORRECT_COLOR,
    FIGSIZE,
    MISTAKE_COLOR,
    NEUTRAL_COLOR,
    PALETTE,
    book_style,
    save_figure,
)

__all__ = [
    "plot_ablation",
    "BOOK_RC",
    "CORRECT_COLOR",
    "FIGSIZE",
    "MISTAKE_COLOR",
    "NEUTRAL_COLOR",
    "PALETTE",
    "book_style",
    "plot_activations",
    "plot_channels",
    "plot_class_balance",
    "plot_dataset_statistics",
    "plot_confusion_matrix",
    "plot_convolution_demo",
    "plot_error_history",
    "plot_feature_maps",
    "plot_filters",
    "plot_graph",
    "plot_history",
    "plot_learning_rates",
    "plot_loss_curves",
    "plot_model_comparison",
    "plot_optimizer_comparison",
    "plot_pooling",
    "plot_precision_recall",
    "plot_receptive_field",
    "plot_softmax",
    "save_figure",
    "show_image_as_numbers",
    "show_images",
    "tf_graph_nodes",
]
