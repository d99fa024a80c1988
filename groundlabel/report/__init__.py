"""The review report: what the review decided and what the model should learn from it.

``data.py`` reads a project into plain numbers (no plotting), ``plots.py`` draws them with
matplotlib's Agg backend as PNG bytes (shared by the HTML file and the desktop's Review →
Report dialog), ``html.py`` writes one self-contained HTML file with the PNGs and the
thumbnails embedded as base64. matplotlib is the ``report`` extra and is imported only when a
plot is drawn.
"""
